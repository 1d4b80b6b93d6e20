// Package defaults holds the config files Laravel merges under an app's own:
// laravel/reverb's package config/reverb.php, and the framework's own
// config/cache.php, database.php and broadcasting.php for Laravel 11, 12 and
// 13 (Laravel 10 merges nothing). They are PHP-subset sources written for
// this project from the documented keys, evaluated by phpeval with the app's
// env() exactly like the app's own files.
package defaults

import (
	"embed"
	"fmt"
)

//go:embed reverb.php 11 12 13
var files embed.FS

// ReverbFile is the name used in messages for the package default.
const ReverbFile = "vendor/laravel/reverb/config/reverb.php"

// Reverb returns the package default config/reverb.php source.
func Reverb() []byte {
	b, err := files.ReadFile("reverb.php")
	if err != nil {
		panic("defaults: reverb.php not embedded: " + err.Error()) // build-time invariant
	}
	return b
}

// FrameworkMajors are the Laravel majors whose framework configs exist.
var FrameworkMajors = []int{11, 12, 13}

// Framework returns the framework's own config/<name>.php of a Laravel
// major ("cache", "database", "broadcasting"), and false when that major
// merges no framework file (10) or the file is not one we ship.
func Framework(major int, name string) ([]byte, bool) {
	if major < 11 {
		return nil, false
	}
	if major > 13 {
		major = 13
	}
	b, err := files.ReadFile(fmt.Sprintf("%d/%s.php", major, name))
	if err != nil {
		return nil, false
	}
	return b, true
}

// FrameworkFile is the name used in messages for a framework default.
func FrameworkFile(major int, name string) string {
	return fmt.Sprintf("vendor/laravel/framework/config/%s.php (Laravel %d)", name, major)
}
