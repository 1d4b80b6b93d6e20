package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/reverb-go/reverb/laravelcfg"
)

// checkRoot inspects the project folder before a command loads anything,
// so a command in the wrong folder or in a project without its .env says
// so first: not a Laravel project (no artisan) is an error (ok false, the
// command exits 1); a missing .env is a warning printed first, since the
// real environment may still hold every setting.
func checkRoot(cmd, dir, envName string, stderr io.Writer) (laravelcfg.Root, bool) {
	root, err := laravelcfg.InspectRoot(dir, envName, nil)
	if err == nil {
		err = root.NotLaravel()
	}
	if err != nil {
		printRootError(stderr, cmd, "", err)
		return root, false
	}
	if e := root.MissingEnv(); e != nil {
		printRootError(stderr, cmd, "warning: ", e)
	}
	return root, true
}

// printRootError prints a *laravelcfg.RootError as the problem and, on the
// next line, the fix; other errors on one line.
func printRootError(w io.Writer, cmd, prefix string, err error) {
	var re *laravelcfg.RootError
	if errors.As(err, &re) {
		fmt.Fprintf(w, "reverb %s: %s%s.\n  %s.\n", cmd, prefix, re.Problem, re.Fix)
		return
	}
	fmt.Fprintf(w, "reverb %s: %s%v\n", cmd, prefix, err)
}

// checkRootOnly is checkRoot without the .env warning, for the command
// that creates .env.
func checkRootOnly(cmd, dir string, stderr io.Writer) (laravelcfg.Root, bool) {
	root, err := laravelcfg.InspectRoot(dir, "", nil)
	if err == nil {
		err = root.NotLaravel()
	}
	if err != nil {
		printRootError(stderr, cmd, "", err)
		return root, false
	}
	return root, true
}
