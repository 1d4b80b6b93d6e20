// Package phptest finds the real PHP that oracle tests compare against, and
// skips a test with a message naming the Debian package to install when PHP
// or the PHP library it needs is missing. It is imported only by _test.go
// files; CI installs everything (scripts/install-test-deps.sh), so there the
// oracle tests always run.
package phptest

import (
	"os/exec"
	"strings"
	"testing"
)

// autoloaders maps a class namespace to the Debian autoloader on PHP's
// include path that provides it, and to the package that installs it.
var autoloaders = []struct {
	namespace, file, pkg string
}{
	{`Illuminate\`, "Illuminate/autoload.php", "php-laravel-framework"},
	{`Dotenv\`, "Dotenv/autoload.php", "php-vlucas-phpdotenv"},
	{`Predis\`, "Predis/autoload.php", "php-predis"},
}

// Binary returns the path of php-cli, or skips t saying what the test
// wanted PHP for.
func Binary(t testing.TB, purpose string) string {
	t.Helper()
	p, err := exec.LookPath("php")
	if err != nil {
		t.Skipf("php not installed (apt-get install php-cli): %s", purpose)
	}
	return p
}

// RequireClasses returns the path of php-cli after checking that it can
// autoload every named class (`Illuminate\Support\Str`, `Dotenv\Dotenv`);
// otherwise it skips t, naming the packages to install.
func RequireClasses(t testing.TB, classes ...string) string {
	t.Helper()
	p := Binary(t, "needed to load "+strings.Join(classes, ", "))
	var script strings.Builder
	var pkgs []string
	for _, a := range autoloaders {
		for _, c := range classes {
			if strings.HasPrefix(c, a.namespace) {
				script.WriteString("require '" + a.file + "'; ")
				pkgs = append(pkgs, a.pkg)
				break
			}
		}
	}
	script.WriteString("echo (true")
	for _, c := range classes {
		script.WriteString(" && class_exists('" + strings.ReplaceAll(c, `'`, `\'`) + "')")
	}
	script.WriteString(") ? 'ok' : 'no';")
	out, err := exec.Command(p, "-r", script.String()).CombinedOutput()
	if err != nil || string(out) != "ok" {
		t.Skipf("php cannot load %s (install %s): %v %s", strings.Join(classes, ", "), strings.Join(pkgs, ", "), err, out)
	}
	return p
}

// RequireExtension skips t unless php has the extension loaded ("redis",
// "memcached", "pdo_sqlite"...).
func RequireExtension(t testing.TB, ext string) {
	t.Helper()
	p := Binary(t, "needed for the "+ext+" extension")
	out, _ := exec.Command(p, "-r", "echo extension_loaded('"+ext+"') ? 'ok' : 'no';").Output()
	if string(out) != "ok" {
		t.Skipf("php extension %s not loaded (install php-%s)", ext, ext)
	}
}

// Lines runs php with args and stdin and returns its standard output split
// into lines (without the final empty one). A failing php fails t, showing
// what php wrote to standard error.
func Lines(t testing.TB, phpBin, stdin string, args ...string) []string {
	t.Helper()
	cmd := exec.Command(phpBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("php %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	s := strings.TrimSuffix(string(out), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
