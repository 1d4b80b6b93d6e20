package phpeval

import (
	"math"
	"path/filepath"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// constants are the global constants config files use, with the values of
// a stock 64-bit Linux PHP 8.4 (PHP_VERSION_ID 80400).
var constants = map[string]php.Value{
	"PHP_EOL":                         php.StringValue("\n"),
	"PHP_VERSION_ID":                  php.IntValue(80400),
	"PHP_MAJOR_VERSION":               php.IntValue(8),
	"PHP_MINOR_VERSION":               php.IntValue(4),
	"PHP_INT_MAX":                     php.IntValue(1<<63 - 1),
	"PHP_INT_MIN":                     php.IntValue(-1 << 63),
	"PHP_INT_SIZE":                    php.IntValue(8),
	"PHP_OS":                          php.StringValue("Linux"),
	"PHP_OS_FAMILY":                   php.StringValue("Linux"),
	"DIRECTORY_SEPARATOR":             php.StringValue("/"),
	"PATH_SEPARATOR":                  php.StringValue(":"),
	"PHP_URL_SCHEME":                  php.IntValue(0),
	"PHP_URL_HOST":                    php.IntValue(1),
	"PHP_URL_PORT":                    php.IntValue(2),
	"PHP_URL_USER":                    php.IntValue(3),
	"PHP_URL_PASS":                    php.IntValue(4),
	"PHP_URL_PATH":                    php.IntValue(5),
	"PHP_URL_QUERY":                   php.IntValue(6),
	"PHP_URL_FRAGMENT":                php.IntValue(7),
	"ARRAY_FILTER_USE_KEY":            php.IntValue(2),
	"ARRAY_FILTER_USE_BOTH":           php.IntValue(1),
	"COUNT_RECURSIVE":                 php.IntValue(1),
	"COUNT_NORMAL":                    php.IntValue(0),
	"FILTER_VALIDATE_BOOLEAN":         php.IntValue(filterValidateBool),
	"FILTER_VALIDATE_BOOL":            php.IntValue(filterValidateBool),
	"FILTER_VALIDATE_INT":             php.IntValue(filterValidateInt),
	"FILTER_DEFAULT":                  php.IntValue(filterDefault),
	"FILTER_NULL_ON_FAILURE":          php.IntValue(filterNullOnFail),
	"E_ALL":                           php.IntValue(32767),
	"E_DEPRECATED":                    php.IntValue(8192),
	"E_USER_DEPRECATED":               php.IntValue(16384),
	"LOCK_EX":                         php.IntValue(2),
	"JSON_PRETTY_PRINT":               php.IntValue(128),
	"JSON_UNESCAPED_SLASHES":          php.IntValue(64),
	"JSON_UNESCAPED_UNICODE":          php.IntValue(256),
	"JSON_THROW_ON_ERROR":             php.IntValue(4194304),
	"JSON_HEX_TAG":                    php.IntValue(1),
	"JSON_HEX_AMP":                    php.IntValue(2),
	"JSON_HEX_APOS":                   php.IntValue(4),
	"JSON_HEX_QUOT":                   php.IntValue(8),
	"JSON_FORCE_OBJECT":               php.IntValue(16),
	"JSON_NUMERIC_CHECK":              php.IntValue(32),
	"JSON_PARTIAL_OUTPUT_ON_ERROR":    php.IntValue(512),
	"JSON_PRESERVE_ZERO_FRACTION":     php.IntValue(1024),
	"JSON_UNESCAPED_LINE_TERMINATORS": php.IntValue(2048),
	"JSON_INVALID_UTF8_IGNORE":        php.IntValue(1048576),
	"JSON_INVALID_UTF8_SUBSTITUTE":    php.IntValue(2097152),
	"PHP_FLOAT_EPSILON":               php.FloatValue(2.220446049250313e-16),
	"M_PI":                            php.FloatValue(3.141592653589793),
	"INF":                             php.FloatValue(math.Inf(1)),
	"NAN":                             php.FloatValue(math.NaN()),
	"PHP_MAXPATHLEN":                  php.IntValue(4096),
	"SORT_STRING":                     php.IntValue(2),
	"SORT_REGULAR":                    php.IntValue(0),
	"STR_PAD_RIGHT":                   php.IntValue(1),
	"STR_PAD_LEFT":                    php.IntValue(0),
	"STR_PAD_BOTH":                    php.IntValue(2),
	"LARAVEL_START":                   php.FloatValue(0),
	"PHP_BINARY":                      php.StringValue("/usr/bin/php"),
	"PHP_SAPI":                        php.StringValue("cli"),
	"PHP_VERSION":                     php.StringValue("8.4.0"),
	"PHP_RELEASE_VERSION":             php.IntValue(0),
	"PHP_DEBUG":                       php.IntValue(0),
	"PHP_ZTS":                         php.IntValue(0),
	"PHP_EXTRA_VERSION":               php.StringValue(""),
	"PHP_FLOAT_DIG":                   php.IntValue(15),
	"PHP_ROUND_HALF_UP":               php.IntValue(1),
	"PHP_SHLIB_SUFFIX":                php.StringValue("so"),
	"PHP_FD_SETSIZE":                  php.IntValue(1024),
	"PHP_FLOAT_MAX":                   php.FloatValue(1.7976931348623157e308),
	"PHP_FLOAT_MIN":                   php.FloatValue(2.2250738585072014e-308),
	"DEFAULT_INCLUDE_PATH":            php.StringValue(".:/usr/share/php"),
	"PHP_PREFIX":                      php.StringValue("/usr"),
	"PHP_BINDIR":                      php.StringValue("/usr/bin"),
	"PHP_LIBDIR":                      php.StringValue("/usr/lib/php"),
	"PHP_DATADIR":                     php.StringValue("/usr/share"),
	"PHP_SYSCONFDIR":                  php.StringValue("/etc"),
	"PHP_LOCALSTATEDIR":               php.StringValue("/var"),
	"PHP_CONFIG_FILE_PATH":            php.StringValue("/etc/php/8.4/cli"),
	"PHP_CONFIG_FILE_SCAN_DIR":        php.StringValue("/etc/php/8.4/cli/conf.d"),
	"PHP_MANDIR":                      php.StringValue("/usr/share/man"),
	"PHP_EXTENSION_DIR":               php.StringValue("/usr/lib/php/20240924"),
	"PEAR_INSTALL_DIR":                php.StringValue("/usr/share/php"),
	"PEAR_EXTENSION_DIR":              php.StringValue("/usr/lib/php/20240924"),
	"PHP_OUTPUT_HANDLER_STDFLAGS":     php.IntValue(112),
}

// classConstants are Class::CONST values for the classes config files use
// (pdo_mysql built with mysqlnd, as Debian ships it).
var classConstants = map[string]php.Value{
	"pdo::mysql_attr_ssl_ca":                  php.IntValue(1009),
	"pdo::mysql_attr_ssl_cert":                php.IntValue(1008),
	"pdo::mysql_attr_ssl_key":                 php.IntValue(1007),
	"pdo::mysql_attr_ssl_verify_server_cert":  php.IntValue(1014),
	"pdo::mysql_attr_init_command":            php.IntValue(1002),
	"pdo\\mysql::attr_ssl_ca":                 php.IntValue(1009),
	"pdo\\mysql::attr_ssl_cert":               php.IntValue(1008),
	"pdo\\mysql::attr_ssl_key":                php.IntValue(1007),
	"pdo\\mysql::attr_ssl_verify_server_cert": php.IntValue(1014),
	"pdo\\mysql::attr_init_command":           php.IntValue(1002),
	"pdo::attr_persistent":                    php.IntValue(12),
	"pdo::attr_timeout":                       php.IntValue(2),
	"pdo::attr_errmode":                       php.IntValue(3),
	"pdo::errmode_exception":                  php.IntValue(2),
	"pdo::attr_emulate_prepares":              php.IntValue(20),
	"pdo::attr_stringify_fetches":             php.IntValue(17),
	"redis::serializer_none":                  php.IntValue(0),
	"redis::serializer_php":                   php.IntValue(1),
	"redis::serializer_igbinary":              php.IntValue(2),
	"redis::serializer_msgpack":               php.IntValue(3),
	"redis::serializer_json":                  php.IntValue(4),
	"redis::compression_none":                 php.IntValue(0),
	"redis::compression_lzf":                  php.IntValue(1),
	"redis::compression_zstd":                 php.IntValue(2),
	"redis::compression_lz4":                  php.IntValue(3),
	"redis::opt_serializer":                   php.IntValue(1),
	"redis::opt_prefix":                       php.IntValue(2),
	"memcached::opt_connect_timeout":          php.IntValue(14),
	"memcached::opt_compression":              php.IntValue(-1001),
	"memcached::opt_prefix_key":               php.IntValue(-1002),
	"memcached::opt_serializer":               php.IntValue(-1003),
	"memcached::opt_binary_protocol":          php.IntValue(18),
	"memcached::opt_distribution":             php.IntValue(9),
	"memcached::distribution_consistent":      php.IntValue(1),
	"memcached::opt_libketama_compatible":     php.IntValue(16),
}

func (in *interp) constant(n *constNode) php.Value {
	name := strings.TrimPrefix(n.name, "\\")
	switch strings.ToUpper(name) {
	case "__LINE__":
		return php.IntValue(int64(n.line))
	case "__FILE__", "__DIR__":
		if in.opts.Path == "" {
			return in.unknown(n.line, name+" (file path unknown)")
		}
		if strings.ToUpper(name) == "__DIR__" {
			return php.StringValue(filepath.Dir(in.opts.Path))
		}
		return php.StringValue(in.opts.Path)
	case "__NAMESPACE__", "__CLASS__", "__FUNCTION__", "__METHOD__":
		return in.unknown(n.line, "magic constant "+name)
	}
	if v, ok := constants[name]; ok {
		return v
	}
	if v, ok := constants[strings.ToUpper(name)]; ok && strings.HasPrefix(strings.ToUpper(name), "PHP_") {
		return v
	}
	if v, ok := in.defined[name]; ok {
		return v
	}
	return in.unknown(n.line, "constant "+n.name)
}

// resolveClass resolves a class name through the file's use imports.
func (in *interp) resolveClass(name string) string {
	if strings.HasPrefix(name, "\\") {
		return name[1:]
	}
	first, rest, hasRest := strings.Cut(name, "\\")
	if fq, ok := in.aliases[strings.ToLower(first)]; ok {
		if hasRest {
			return fq + "\\" + rest
		}
		return fq
	}
	return name
}

func (in *interp) classConst(n *classConstNode) php.Value {
	cls := in.resolveClass(n.class)
	if strings.EqualFold(n.name, "class") {
		switch strings.ToLower(cls) {
		case "self", "static", "parent":
			return in.unknown(n.line, n.class+"::class")
		}
		return php.StringValue(cls)
	}
	if v, ok := classConstants[strings.ToLower(cls)+"::"+strings.ToLower(n.name)]; ok {
		return v
	}
	return in.unknown(n.line, "class constant "+n.class+"::"+n.name)
}

func (in *interp) evalStaticCall(n *staticCallNode, sc *scope) php.Value {
	args, bad := in.evalArgs(n.args, sc)
	if bad.IsUnknown() {
		return bad
	}
	return in.staticCall(n.line, in.resolveClass(n.class), n.method, args)
}

// isStrClass accepts Laravel's Str helper under its real name or the
// global alias Laravel registers.
func isStrClass(cls string) bool {
	c := strings.ToLower(strings.TrimPrefix(cls, "\\"))
	return c == "illuminate\\support\\str" || c == "str"
}

func (in *interp) staticCall(line int, cls, method string, args []php.Value) php.Value {
	for _, a := range args {
		if a.IsUnknown() {
			return a
		}
	}
	if c := strings.ToLower(strings.TrimPrefix(cls, "\\")); (c == "illuminate\\support\\env" || c == "env") && strings.EqualFold(method, "get") {
		return fnEnv(in, line, args)
	}
	if isStrClass(cls) {
		switch strings.ToLower(method) {
		case "slug":
			title, ok := stringArg(args, 0)
			if !ok {
				return in.failed(line, "TypeError: Str::slug(): Argument #1 ($title) must be of type string")
			}
			sep := "-"
			if len(args) > 1 {
				s, ok := stringArg(args, 1)
				if !ok {
					return in.failed(line, "TypeError: Str::slug(): Argument #2 ($separator) must be of type string")
				}
				sep = s
			}
			return php.StringValue(Slug(title, sep))
		case "lower", "upper":
			s, _ := stringArg(args, 0)
			v, ok := mbCase(s, strings.EqualFold(method, "upper"))
			if !ok {
				return in.unknown(line, "Str::"+method+"() of "+mbCaseRefusal(s))
			}
			return php.StringValue(v)
		case "title":
			s, ok := stringArg(args, 0)
			if !ok {
				return in.failed(line, "TypeError: mb_convert_case(): Argument #1 ($string) must be of type string")
			}
			t, ok := asciiTitle(s)
			if !ok {
				return in.unknown(line, "Str::title() of non-ASCII text")
			}
			return php.StringValue(t)
		case "ascii":
			s, _ := stringArg(args, 0)
			return php.StringValue(ASCII(s))
		}
	}
	return in.unknown(line, "static call "+cls+"::"+method+"()")
}

// asciiTitle is mb_convert_case($s, MB_CASE_TITLE) for ASCII text: a
// letter is upper-cased after a character that is not a letter, lower-cased
// after a letter; ' . : ^ and ` (case-ignorable) keep the state they
// follow. ok is false for non-ASCII text.
func asciiTitle(s string) (string, bool) {
	b := []byte(s)
	inWord := false
	for i, c := range b {
		switch {
		case c >= 0x80:
			return "", false
		case c >= 'a' && c <= 'z':
			if !inWord {
				b[i] = c - 32
			}
			inWord = true
		case c >= 'A' && c <= 'Z':
			if inWord {
				b[i] = c + 32
			}
			inWord = true
		case c == '\'' || c == '.' || c == ':' || c == '^' || c == '`':
		default:
			inWord = false
		}
	}
	return string(b), true
}
