// Package dotenv reads a Laravel .env file exactly as Laravel does (phpdotenv
// 5 with Laravel's immutable repository) and implements Laravel's env()
// helper on top of it.
//
// phpdotenv is ported, not approximated: pass 1 joins physical lines into
// entries (multi-line double quotes, comment lines, and the silent swallow of
// an unterminated quote), pass 2 runs each entry through phpdotenv's token
// state machine, and loading resolves ${NAME} against the real environment
// first and earlier lines second. A file phpdotenv rejects is rejected here
// with file:line and phpdotenv's reason, because the PHP app would not boot
// with it either.
package dotenv

// Entry is one parsed definition of a .env file.
type Entry struct {
	// Name is the variable name, after removing "export " and quotes.
	Name string
	// Unset is true for a line without '=': loading removes the variable
	// if the file defined it (never a real environment variable).
	Unset bool
	// Value holds the characters of the value after unquoting and escape
	// processing, before ${NAME} interpolation.
	Value string
	// Vars are the byte offsets in Value of each '$' that may start a
	// ${NAME} reference, ascending. A '$' written as \$ inside double quotes
	// or inside single quotes is not listed: it stays literal.
	Vars []int
	// Line is the 1-based line of the file where the entry starts.
	Line int
}

// Parse parses the contents of a .env file. filename is only used in
// errors. The contents are first made valid UTF-8 the way PHP's
// mb_convert_encoding does, and a leading BOM is removed. The first entry
// phpdotenv would refuse makes the whole file fail with an *Error.
func Parse(filename string, data []byte) ([]Entry, error) {
	entries, err := parse(filename, data, latest)
	if err != nil {
		return nil, err
	}
	return entries, nil
}

// dialect selects the phpdotenv release whose parser is reproduced. The
// package follows the newest 5.6 (Laravel 11+ requires ^5.6.1, and composer
// gives Laravel 10 apps 5.6 too); v54 reproduces 5.4.1, the version Debian
// ships, so the tests can check against PHP that every known 5.4/5.6
// difference is exactly the one documented.
type dialect struct {
	v54 bool
}

var latest = dialect{}

// parse returns a typed nil-able *Error so callers inside the package do not
// trip over a non-nil error interface holding a nil pointer.
func parse(filename string, data []byte, d dialect) ([]Entry, *Error) {
	raws := joinLines(splitLines(toUTF8(data)), d)
	entries := make([]Entry, 0, len(raws))
	for _, raw := range raws {
		e, err := parseEntry(filename, raw, d)
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	return entries, nil
}
