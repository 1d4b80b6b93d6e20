package laravelcfg

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Sources of LaravelMajorSource.
const (
	SourceComposerLock = "composer.lock"
	SourceVendor       = "vendor/laravel/framework"
	SourceComposerJSON = "composer.json constraint"
	SourceAssumed      = "assumed (newest)"
)

// NewestLaravelMajor is what an app of unknown version is taken to be.
const NewestLaravelMajor = 13

// DetectLaravelMajor finds the app's Laravel major version: the installed
// laravel/framework in composer.lock, else the vendor copy (installed.json,
// the framework's Application::VERSION, or its branch alias), else the
// highest major the composer.json constraint allows, else the newest.
func DetectLaravelMajor(base string) (int, string) {
	if m := fromComposerLock(filepath.Join(base, "composer.lock")); m > 0 {
		return m, SourceComposerLock
	}
	if m := fromVendor(base); m > 0 {
		return m, SourceVendor
	}
	if m, c := fromComposerJSON(filepath.Join(base, "composer.json")); m > 0 {
		return m, SourceComposerJSON + " " + c
	}
	return NewestLaravelMajor, SourceAssumed
}

type composerPackage struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

func fromComposerLock(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	var lock struct {
		Packages []composerPackage `json:"packages"`
	}
	if json.Unmarshal(b, &lock) != nil {
		return 0
	}
	for _, p := range lock.Packages {
		if p.Name == "laravel/framework" {
			return majorOf(p.Version)
		}
	}
	return 0
}

var versionConst = regexp.MustCompile(`const\s+VERSION\s*=\s*'([^']+)'`)

func fromVendor(base string) int {
	// Composer 2's installed.json: {"packages": [...]}; Composer 1: [...].
	if b, err := os.ReadFile(filepath.Join(base, "vendor", "composer", "installed.json")); err == nil {
		var v2 struct {
			Packages []composerPackage `json:"packages"`
		}
		var v1 []composerPackage
		pkgs := v1
		if json.Unmarshal(b, &v2) == nil {
			pkgs = v2.Packages
		} else if json.Unmarshal(b, &v1) == nil {
			pkgs = v1
		}
		for _, p := range pkgs {
			if p.Name == "laravel/framework" {
				if m := majorOf(p.Version); m > 0 {
					return m
				}
			}
		}
	}
	fw := filepath.Join(base, "vendor", "laravel", "framework")
	if b, err := os.ReadFile(filepath.Join(fw, "src", "Illuminate", "Foundation", "Application.php")); err == nil {
		if m := versionConst.FindSubmatch(b); m != nil {
			if v := majorOf(string(m[1])); v > 0 {
				return v
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(fw, "composer.json")); err == nil {
		var c struct {
			Version string `json:"version"`
			Extra   struct {
				BranchAlias map[string]string `json:"branch-alias"`
			} `json:"extra"`
		}
		if json.Unmarshal(b, &c) == nil {
			if m := majorOf(c.Version); m > 0 {
				return m
			}
			for _, v := range c.Extra.BranchAlias {
				if m := majorOf(v); m > 0 {
					return m
				}
			}
		}
	}
	return 0
}

var constraintMajor = regexp.MustCompile(`(\d+)(?:\.[\d*x]+)*`)

// fromComposerJSON reads require["laravel/framework"] and returns the
// highest major it mentions ("^11.0|^12.0" → 12), which is what composer
// would install.
func fromComposerJSON(path string) (int, string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, ""
	}
	var c struct {
		Require map[string]string `json:"require"`
	}
	if json.Unmarshal(b, &c) != nil {
		return 0, ""
	}
	con := c.Require["laravel/framework"]
	best := 0
	for _, m := range constraintMajor.FindAllStringSubmatch(con, -1) {
		if n, err := strconv.Atoi(m[1]); err == nil && n >= 5 && n < 100 && n > best {
			best = n
		}
	}
	if best < 10 {
		return 0, ""
	}
	return best, con
}

// majorOf parses "v12.3.0", "12.x-dev", "11.0.0-beta1" → major; dev
// branches without a number give 0.
func majorOf(v string) int {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	end := 0
	for end < len(v) && v[end] >= '0' && v[end] <= '9' {
		end++
	}
	if end == 0 {
		return 0
	}
	n, err := strconv.Atoi(v[:end])
	if err != nil {
		return 0
	}
	return n
}
