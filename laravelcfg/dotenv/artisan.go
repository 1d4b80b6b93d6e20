package dotenv

import "os"

// artisanServerVars are the string entries PHP's CLI SAPI itself puts into
// $_SERVER when `php artisan ...` runs, after importing the environment (so
// they override real variables of the same name). phpdotenv reads $_SERVER
// first, so under artisan these names count as real variables: .env cannot
// set them, env('DOCUMENT_ROOT') is the empty string and ${PHP_SELF} interpolates to
// "artisan".
var artisanServerVars = map[string]string{
	"PHP_SELF":        "artisan",
	"SCRIPT_NAME":     "artisan",
	"SCRIPT_FILENAME": "artisan",
	"PATH_TRANSLATED": "artisan",
	"DOCUMENT_ROOT":   "",
}

// ArtisanLookup wraps a real-environment lookup (nil means os.LookupEnv) so
// that it also sees what `php artisan` adds to $_SERVER (PHP_SELF,
// SCRIPT_NAME, SCRIPT_FILENAME, PATH_TRANSLATED as "artisan",
// DOCUMENT_ROOT as ""). Pass it to Load to read .env exactly as
// `php artisan reverb:start` does.
func ArtisanLookup(lookupReal func(string) (string, bool)) func(string) (string, bool) {
	if lookupReal == nil {
		lookupReal = os.LookupEnv
	}
	return func(name string) (string, bool) {
		if v, ok := artisanServerVars[name]; ok {
			return v, true
		}
		return lookupReal(name)
	}
}
