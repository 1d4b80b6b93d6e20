// Package installer does to a Laravel project what `php artisan
// reverb:install` does: it appends the missing REVERB_* and VITE_REVERB_*
// lines to .env with freshly generated credentials, points the broadcaster at
// Reverb, publishes config/reverb.php and adds the reverb connection to a
// config/broadcasting.php that lacks one. It never overwrites a value that is
// already there, so a second run changes nothing.
//
// As Reverb's command, it also uncomments App\Providers\BroadcastServiceProvider
// in a Laravel 10 config/app.php.
//
// Differences from Reverb's command, on purpose (see docs/compatibility.md):
//   - A missing .env is created from .env.example (as Laravel's composer
//     create-project script does), or empty; Reverb silently skips .env.
//   - A key also counts as present on the first line of the file and after
//     "export "; Reverb's test (content contains "\n"+KEY) misses both and
//     appends a duplicate that overrides the user's value.
//   - BROADCAST_DRIVER= / BROADCAST_CONNECTION= lines get their whole value
//     replaced; Reverb's regex (=\w*) turns BROADCAST_CONNECTION="log" into
//     BROADCAST_CONNECTION=reverb"log". When neither line exists one is added
//     (Reverb adds nothing).
//   - No prompts: broadcasting is always enabled; routes/channels.php is not
//     created (that is `php artisan install:broadcasting`'s job) but a
//     missing one is reported.
package installer

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"github.com/reverb-go/reverb/laravelcfg/defaults"
	"github.com/reverb-go/reverb/laravelcfg/dotenv"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"crypto/rand"
)

// DefaultReverbConfig returns config/reverb.php as `vendor:publish
// --tag=reverb-config` writes it: in Reverb the published file is the package
// default itself, so it is the one laravelcfg/defaults merges under apps
// (kept equal to examples/laravel/config/reverb.php by a test).
func DefaultReverbConfig() []byte { return defaults.Reverb() }

// Options select the project and the randomness source.
type Options struct {
	// Dir is the Laravel project root.
	Dir string
	// Rand generates the app id, key and secret; nil means crypto/rand.
	Rand io.Reader
	// DryRun computes the changes without writing anything.
	DryRun bool
	// EnvName is artisan's --env option: the variables go to .env.{EnvName}
	// when that file exists, as reverb:install writes to the file Laravel
	// loaded. Without it, the real APP_ENV selects the file the same way.
	EnvName string
	// LookupEnv reads the real environment (APP_ENV); nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// Result lists what was changed (human-readable, one entry per change) and
// notes worth showing the user.
type Result struct {
	Changes []string
	Notes   []string
}

// Install applies the changes. Files are replaced atomically (write to a
// temporary file in the same folder, then rename) after following symlinks,
// so a .env symlinked into shared storage by Envoyer/Forge stays a symlink.
func Install(opts Options) (*Result, error) {
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	dir := opts.Dir
	if dir == "" {
		dir = "."
	}
	if _, err := os.Stat(filepath.Join(dir, "artisan")); err != nil {
		return nil, fmt.Errorf("%s is not a Laravel project root (no artisan file)", dir)
	}
	res := &Result{}

	// 1. .env (or the .env.{env} file Laravel would load): create when
	// missing, then the REVERB_* block.
	envPath := dotenv.SelectFile(dir, opts.EnvName, opts.LookupEnv)
	envFile := filepath.Base(envPath)
	env, err := os.ReadFile(envPath)
	envExisted := err == nil
	switch {
	case err == nil:
	case os.IsNotExist(err):
		example, exErr := os.ReadFile(filepath.Join(dir, ".env.example"))
		if exErr == nil {
			env = example
			res.Changes = append(res.Changes, "created .env from .env.example")
		} else {
			res.Changes = append(res.Changes, "created .env")
		}
	default:
		return nil, err
	}
	creds, err := NewCredentials(rnd)
	if err != nil {
		return nil, err
	}
	newEnv, added := AppendReverbVariables(env, creds)
	if len(added) > 0 {
		res.Changes = append(res.Changes, envFile+": added "+strings.Join(added, ", "))
	}

	// 2. The broadcaster.
	broadcastingPHP, _ := os.ReadFile(filepath.Join(dir, "config", "broadcasting.php"))
	driverKey := "BROADCAST_CONNECTION"
	if bytes.Contains(broadcastingPHP, []byte("BROADCAST_DRIVER")) {
		driverKey = "BROADCAST_DRIVER" // Laravel 10 skeleton
	}
	newEnv, what := SetBroadcastConnection(newEnv, driverKey)
	if what != "" {
		res.Changes = append(res.Changes, envFile+": "+what)
	}
	if !envExisted || !bytes.Equal(newEnv, env) {
		if err := writeFile(opts, envPath, newEnv); err != nil {
			return nil, err
		}
	}

	// 3. config/reverb.php.
	reverbPHP := filepath.Join(dir, "config", "reverb.php")
	if _, err := os.Stat(reverbPHP); os.IsNotExist(err) {
		if err := writeFile(opts, reverbPHP, DefaultReverbConfig()); err != nil {
			return nil, err
		}
		res.Changes = append(res.Changes, "published config/reverb.php")
	}

	// 4. config/broadcasting.php without a reverb connection (Laravel 10,
	// or a hand-trimmed file).
	if broadcastingPHP != nil {
		updated, ok := AddBroadcastingConnection(broadcastingPHP)
		switch {
		case ok:
			if err := writeFile(opts, filepath.Join(dir, "config", "broadcasting.php"), updated); err != nil {
				return nil, err
			}
			res.Changes = append(res.Changes, "config/broadcasting.php: added the reverb connection")
		case !hasReverbConnection(broadcastingPHP):
			res.Notes = append(res.Notes, "config/broadcasting.php has no 'connections' => [ line to add the reverb connection to; add it by hand")
		}
	}
	// 5. Laravel 10 registers BroadcastServiceProvider in config/app.php,
	// commented out in the skeleton: reverb:install uncomments it.
	appPHPPath := filepath.Join(dir, "config", "app.php")
	if appPHP, err := os.ReadFile(appPHPPath); err == nil {
		if updated, ok := EnableBroadcastServiceProvider(appPHP); ok {
			if err := writeFile(opts, appPHPPath, updated); err != nil {
				return nil, err
			}
			res.Changes = append(res.Changes, "config/app.php: enabled App\\Providers\\BroadcastServiceProvider")
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "routes", "channels.php")); os.IsNotExist(err) {
		res.Notes = append(res.Notes, "routes/channels.php is missing: run `php artisan install:broadcasting` to enable event broadcasting")
	}
	return res, nil
}

// Credentials are a generated app id, key and secret.
type Credentials struct {
	AppID, Key, Secret string
}

// NewCredentials draws what reverb:install draws: random_int(100000, 999999)
// and Str::lower(Str::random(20)) twice.
func NewCredentials(r io.Reader) (Credentials, error) {
	n, err := rand.Int(r, big.NewInt(900_000))
	if err != nil {
		return Credentials{}, err
	}
	key, err := randomString(r, 20)
	if err != nil {
		return Credentials{}, err
	}
	secret, err := randomString(r, 20)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{AppID: fmt.Sprint(100_000 + n.Int64()), Key: strings.ToLower(key), Secret: strings.ToLower(secret)}, nil
}

// randomString is Laravel's Str::random: base64 of random bytes with "/",
// "+" and "=" deleted, refilled until long enough. Lowercasing it afterwards
// gives Reverb's distribution: each letter twice as likely as each digit.
func randomString(r io.Reader, length int) (string, error) {
	var sb strings.Builder
	for sb.Len() < length {
		size := length - sb.Len()
		buf := make([]byte, (size+2)/3*3)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		s := strings.NewReplacer("/", "", "+", "", "=", "").Replace(base64.StdEncoding.EncodeToString(buf))
		if len(s) > size {
			s = s[:size]
		}
		sb.WriteString(s)
	}
	return sb.String(), nil
}

// reverbLines is reverb:install's list in its order; "" is the blank line
// (REVERB_NEW_LINE).
func reverbLines(c Credentials) [][2]string {
	return [][2]string{
		{"REVERB_APP_ID", "REVERB_APP_ID=" + c.AppID},
		{"REVERB_APP_KEY", "REVERB_APP_KEY=" + c.Key},
		{"REVERB_APP_SECRET", "REVERB_APP_SECRET=" + c.Secret},
		{"REVERB_HOST", `REVERB_HOST="localhost"`},
		{"REVERB_PORT", "REVERB_PORT=8080"},
		{"REVERB_SCHEME", "REVERB_SCHEME=http"},
		{"", ""},
		{"VITE_REVERB_APP_KEY", `VITE_REVERB_APP_KEY="${REVERB_APP_KEY}"`},
		{"VITE_REVERB_HOST", `VITE_REVERB_HOST="${REVERB_HOST}"`},
		{"VITE_REVERB_PORT", `VITE_REVERB_PORT="${REVERB_PORT}"`},
		{"VITE_REVERB_SCHEME", `VITE_REVERB_SCHEME="${REVERB_SCHEME}"`},
	}
}

// HasKey reports whether env already defines key: Reverb's test (the content
// contains newline+KEY), plus KEY on the first line and after "export ".
func HasKey(env []byte, key string) bool {
	k := []byte(key)
	return bytes.Contains(env, append([]byte("\n"), k...)) ||
		bytes.HasPrefix(env, k) ||
		bytes.Contains(env, append([]byte("export "), k...))
}

// AppendReverbVariables appends the lines for keys env does not have, as
// reverb:install does: the block is trimmed (so the blank line disappears
// when one side of it is complete) and separated from the existing content
// by one blank line.
func AppendReverbVariables(env []byte, c Credentials) (out []byte, added []string) {
	var lines []string
	for _, l := range reverbLines(c) {
		if l[0] == "" {
			lines = append(lines, "")
			continue
		}
		if !HasKey(env, l[0]) {
			lines = append(lines, l[1])
			added = append(added, l[0])
		}
	}
	block := strings.TrimSpace(strings.Join(lines, "\n"))
	if block == "" {
		return env, nil
	}
	out = bytes.Clone(env)
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	// Reverb writes PHP_EOL.block.PHP_EOL after a file that ends with a
	// newline: one blank line between the old content and the block.
	if len(out) > 0 {
		out = append(out, '\n')
	}
	out = append(out, block...)
	out = append(out, '\n')
	return out, added
}

var broadcastLine = regexp.MustCompile(`(?m)^([ \t]*(?:export[ \t]+)?BROADCAST_(?:DRIVER|CONNECTION)[ \t]*=)(.*?)(\r?)$`)

// SetBroadcastConnection rewrites every BROADCAST_DRIVER= and
// BROADCAST_CONNECTION= line to =reverb, or appends addKey=reverb when there
// is none. what describes the change ("" when nothing changed).
func SetBroadcastConnection(env []byte, addKey string) (out []byte, what string) {
	changed := []string{}
	found := false
	out = broadcastLine.ReplaceAllFunc(env, func(m []byte) []byte {
		found = true
		sub := broadcastLine.FindSubmatch(m)
		// Keep an inline " # comment" (phpdotenv allows one after a value).
		value, comment := sub[2], []byte(nil)
		if i := bytes.Index(value, []byte(" #")); i >= 0 {
			value, comment = value[:i], value[i:]
		}
		if string(bytes.TrimSpace(value)) == "reverb" {
			return m
		}
		key := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(strings.TrimSuffix(string(sub[1]), "=")), "export"))
		changed = append(changed, fmt.Sprintf("%s=%s → reverb", key, bytes.TrimSpace(value)))
		out := append(bytes.Clone(sub[1]), "reverb"...)
		return append(append(out, comment...), sub[3]...)
	})
	if found {
		return out, strings.Join(changed, ", ")
	}
	out = bytes.Clone(env)
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	out = append(out, addKey+"=reverb\n"...)
	return out, "added " + addKey + "=reverb"
}

var reverbConnection = regexp.MustCompile(`['"]reverb['"]\s*=>`)

func hasReverbConnection(php []byte) bool { return reverbConnection.Match(php) }

// broadcastingBlock is the connection reverb:install inserts (with the path
// option Reverb added in 2026, harmless when REVERB_SERVER_PATH is unset).
const broadcastingBlock = `'connections' => [

        'reverb' => [
            'driver' => 'reverb',
            'key' => env('REVERB_APP_KEY'),
            'secret' => env('REVERB_APP_SECRET'),
            'app_id' => env('REVERB_APP_ID'),
            'options' => [
                'host' => env('REVERB_HOST'),
                'port' => env('REVERB_PORT', 443),
                'scheme' => env('REVERB_SCHEME', 'https'),
                'useTLS' => env('REVERB_SCHEME', 'https') === 'https',
                'path' => env('REVERB_SERVER_PATH', ''),
            ],
            'client_options' => [
                // Guzzle client options: https://docs.guzzlephp.org/en/stable/request-options.html
            ],
        ],
`

// AddBroadcastingConnection inserts the reverb connection after the first
// "'connections' => [" line when the file has no reverb connection.
func AddBroadcastingConnection(php []byte) ([]byte, bool) {
	if hasReverbConnection(php) {
		return php, false
	}
	marker := []byte("'connections' => [\n")
	i := bytes.Index(php, marker)
	if i < 0 {
		return php, false
	}
	out := append(bytes.Clone(php[:i]), broadcastingBlock...)
	return append(out, php[i+len(marker):]...), true
}

func writeFile(opts Options, path string, data []byte) error {
	if opts.DryRun {
		return nil
	}
	real := path
	if r, err := filepath.EvalSymlinks(path); err == nil {
		real = r
	}
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(real); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(real), "."+filepath.Base(real)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), real)
}

// commentedBroadcastProvider is the Laravel 10 skeleton's line, as
// reverb:install looks for it.
const commentedBroadcastProvider = `// App\Providers\BroadcastServiceProvider::class`

// EnableBroadcastServiceProvider uncomments the BroadcastServiceProvider of
// a Laravel 10 config/app.php, as reverb:install does (every occurrence of
// the commented line, nothing else); ok is false when there is none.
func EnableBroadcastServiceProvider(appPHP []byte) ([]byte, bool) {
	old := []byte(commentedBroadcastProvider)
	if !bytes.Contains(appPHP, old) {
		return appPHP, false
	}
	return bytes.ReplaceAll(appPHP, old, old[3:]), true
}
