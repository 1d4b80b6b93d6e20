package laravelcfg

import (
	"os"
	"path/filepath"
)

// ServingDir is the folder a long-running server reads the project from on
// every start and restart: dir made absolute, or, when dir is a release of
// a release-folder deploy (Envoyer, Forge's zero-downtime deploys,
// Deployer: <app>/releases/<name> with <app>/current linking to it), the
// current link itself. PHP Reverb's process exits on reverb:restart and its
// process manager starts it again in current/, so each restart serves the
// release deployed last; reading through the link gives this server's
// in-place restarts the same result, and keeps them working once the old
// release folder is deleted. inRelease says the link was chosen.
//
// filepath.Abs goes through os.Getwd, which prefers $PWD when it names the
// working folder, so a shell in current/ gives the link already; a process
// manager's chdir (supervisor, systemd) gives the release's real path,
// which the layout check turns back into the link.
func ServingDir(dir string) (serving string, inRelease bool, err error) {
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", false, err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return abs, false, nil // the root checks say what is wrong
	}
	link, ok := currentLink(real)
	if !ok {
		return abs, false, nil
	}
	if target, err := filepath.EvalSymlinks(link); err != nil || target != real {
		return abs, false, nil // a release other than the current one: served as asked
	}
	return link, true, nil
}

// CurrentLink is, when dir is a release of a release-folder deploy
// (<app>/releases/<name> beside an <app>/current link), that link, whichever
// release it points at now: where a process manager starts the server, so
// that it serves each deploy. ok is false outside that layout.
func CurrentLink(dir string) (link string, ok bool) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", false
	}
	return currentLink(real)
}

// currentLink is CurrentLink of a path with no links left in it.
func currentLink(real string) (string, bool) {
	releases := filepath.Dir(real)
	if filepath.Base(releases) != "releases" {
		return "", false
	}
	link := filepath.Join(filepath.Dir(releases), "current")
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		return "", false
	}
	return link, true
}
