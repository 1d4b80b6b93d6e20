// Package tlsconf turns Reverb's servers.reverb.options.tls (PHP SSL context
// options) into a *tls.Config, including Reverb's automatic use of Laravel
// Herd / Valet site certificates when a hostname is set and TLS is not
// configured.
//
// Every call reads the certificate files again, so a restart (the supervisor
// calls Load on each start) picks up renewed certificates.
//
// Mapping of the PHP options (documented in docs/deployment.md too):
//
//	local_cert            PEM file: the certificate chain, leaf first; may also hold the key
//	local_pk              PEM file with the private key (wins over a key inside local_cert)
//	passphrase            decrypts an encrypted key: legacy "Proc-Type: 4,ENCRYPTED" PEM
//	                      blocks and PKCS#8 "ENCRYPTED PRIVATE KEY" (PBES2/PBKDF2, AES-CBC)
//	cafile / capath       CA certificates that client certificates must chain to
//	verify_peer           true + a CA       → tls.RequireAndVerifyClientCert
//	                      true, no CA       → tls.VerifyClientCertIfGiven against the system roots
//	                      unset + a CA      → tls.VerifyClientCertIfGiven against that CA
//	                      false, or unset   → no client certificate is asked for
//	verify_peer_name, allow_self_signed, SNI_enabled, peer_name: client-side options, no effect
//	                      on a server (as in PHP)
//	ciphers, crypto_method, others: ignored (Go's defaults, TLS 1.2+); listed in Result.Ignored
package tlsconf

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/phpeval"
)

// Source says where the certificate came from.
type Source string

const (
	// SourceNone means TLS is off: listen in plain text.
	SourceNone Source = ""
	// SourceConfig means servers.reverb.options.tls named the files.
	SourceConfig Source = "config"
	// SourceHerd means the site certificate of the hostname was found in
	// Herd's certificates folder.
	SourceHerd Source = "herd"
	// SourceValet is the same for Valet's certificates folder.
	SourceValet Source = "valet"
)

// Request is everything Load needs.
type Request struct {
	TLS laravelcfg.TLSOptions
	// Hostname is --hostname or servers.reverb.hostname (REVERB_HOST).
	Hostname string
	// AppEnv is APP_ENV; Herd/Valet certificates verify peers in production
	// (Reverb sets verify_peer = app()->environment() === 'production').
	AppEnv string
	// Home, when set, is the home directory for the Herd/Valet lookup on
	// every OS (it stands for both HOME and USERPROFILE).
	Home string
	// Getenv reads HOME and USERPROFILE when Home is empty; nil means
	// os.Getenv.
	Getenv func(string) string
	// BaseDir resolves relative certificate paths; empty means the current
	// directory, which is what PHP does (artisan runs in the project root).
	BaseDir string
	// GOOS selects the Herd folder layout; empty means runtime.GOOS.
	GOOS string
}

// Result is a ready TLS configuration and where it came from.
type Result struct {
	Config   *tls.Config // nil when Source is SourceNone
	Source   Source
	CertFile string
	KeyFile  string
	// ClientAuth is the client certificate policy chosen from verify_peer
	// and cafile/capath.
	ClientAuth tls.ClientAuthType
	// Ignored lists options.tls keys that have no effect here.
	Ignored []string
}

// Config is the short form of Load for callers that only need the config.
// It returns a nil config and SourceNone when TLS is off.
func Config(opts laravelcfg.TLSOptions, hostname, appEnv, home string) (*tls.Config, Source, error) {
	r, err := Load(Request{TLS: opts, Hostname: hostname, AppEnv: appEnv, Home: home})
	if err != nil {
		return nil, SourceNone, err
	}
	return r.Config, r.Source, nil
}

// Load resolves the certificate (configured, or Herd/Valet), reads and
// checks it, and builds the tls.Config. Errors name the file and the
// problem.
func Load(req Request) (*Result, error) {
	opts := req.TLS
	res := &Result{Ignored: ignoredKeys(opts)}
	verifyPeer := opts.VerifyPeer
	switch {
	case opts.Enabled():
		res.Source = SourceConfig
		res.CertFile = resolvePath(req.BaseDir, opts.LocalCert)
		res.KeyFile = resolvePath(req.BaseDir, opts.LocalPK)
	case req.Hostname != "":
		cert, key, src, ok := LookupSiteCertificate(req.Hostname, req.goos(), req.getenv())
		if !ok {
			return res, nil
		}
		res.Source, res.CertFile, res.KeyFile = src, cert, key
		v := req.AppEnv == "production" // a strict comparison in Reverb
		verifyPeer = &v
	default:
		return res, nil
	}
	if res.CertFile == "" {
		return nil, fmt.Errorf("tls: local_pk %s is set but local_cert is not: a certificate is required", res.KeyFile)
	}

	cert, err := loadKeyPair(res.CertFile, res.KeyFile, opts.Passphrase)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		// WebSockets upgrade over HTTP/1.1 only: never offer h2.
		NextProtos: []string{"http/1.1"},
	}

	caGiven := opts.CAFile != "" || opts.CAPath != ""
	if caGiven {
		pool, err := loadCAs(resolvePath(req.BaseDir, opts.CAFile), resolvePath(req.BaseDir, opts.CAPath))
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
	}
	switch {
	case verifyPeer != nil && *verifyPeer && caGiven:
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case verifyPeer != nil && *verifyPeer:
		// PHP verifies a presented client certificate against OpenSSL's
		// default roots; a nil ClientCAs makes Go use the system roots.
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case verifyPeer == nil && caGiven:
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	default:
		cfg.ClientAuth = tls.NoClientCert
	}
	res.ClientAuth = cfg.ClientAuth
	res.Config = cfg
	return res, nil
}

func (r Request) getenv() func(string) string {
	if r.Home != "" {
		return func(key string) string {
			if key == "HOME" || key == "USERPROFILE" {
				return r.Home
			}
			return ""
		}
	}
	if r.Getenv != nil {
		return r.Getenv
	}
	return os.Getenv
}

func (r Request) goos() string {
	if r.GOOS != "" {
		return r.GOOS
	}
	return runtime.GOOS
}

func resolvePath(base, p string) string {
	if p == "" || filepath.IsAbs(p) || base == "" {
		return p
	}
	return filepath.Join(base, p)
}

// CertDir is a folder Reverb searches for site certificates.
type CertDir struct {
	Source Source
	Dir    string
}

// SiteCertificateDirs returns the folders Reverb's Certificate class
// searches for Herd and Valet site certificates, in order, for goos:
//
//	Herd   macOS, Linux  $HOME/Library/Application Support/Herd/config/valet/Certificates
//	       Windows       %USERPROFILE%\.config\herd\config\valet\Certificates (HOME if USERPROFILE is empty)
//	Valet  every OS      $HOME/.config/valet/Certificates
//
// Reverb reads HOME for Valet on Windows too, where it is usually unset
// (Herd is what runs there). A folder whose home variable is empty is left
// out: Reverb would then search from the root of the file system.
func SiteCertificateDirs(goos string, getenv func(string) string) []CertDir {
	home := getenv("HOME")
	herdHome := home
	if goos == "windows" {
		if p := getenv("USERPROFILE"); p != "" {
			herdHome = p
		}
	}
	var dirs []CertDir
	if herdHome != "" {
		herd := filepath.Join(herdHome, "Library", "Application Support", "Herd", "config", "valet", "Certificates")
		if goos == "windows" {
			herd = filepath.Join(herdHome, ".config", "herd", "config", "valet", "Certificates")
		}
		dirs = append(dirs, CertDir{SourceHerd, herd})
	}
	if home != "" {
		dirs = append(dirs, CertDir{SourceValet, filepath.Join(home, ".config", "valet", "Certificates")})
	}
	return dirs
}

// LookupSiteCertificate finds <host>.crt and <host>.key for hostname in the
// Herd folder, then the Valet folder (SiteCertificateDirs); the first folder
// holding both wins.
func LookupSiteCertificate(hostname, goos string, getenv func(string) string) (cert, key string, src Source, ok bool) {
	if hostname == "" {
		return "", "", SourceNone, false
	}
	host := HostPart(hostname)
	for _, d := range SiteCertificateDirs(goos, getenv) {
		c := filepath.Join(d.Dir, host+".crt")
		k := filepath.Join(d.Dir, host+".key")
		if fileExists(c) && fileExists(k) {
			return c, k, d.Source, true
		}
	}
	return "", "", SourceNone, false
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// HostPart is `parse_url($hostname, PHP_URL_HOST) ?: $hostname`:
// "https://site.test:8080/x", "//site.test" and "site.test:8080" give
// "site.test"; a bare "site.test" has no URL host and is kept as is.
func HostPart(hostname string) string {
	if parts, ok := phpeval.ParseURL(hostname); ok {
		if h, ok := parts.GetString("host"); ok && h.ToBool() {
			return h.StringVal()
		}
	}
	return hostname
}

// knownKeys are options.tls keys that Load maps or that only matter to a
// TLS client (and so are correctly without effect on a server).
var knownKeys = map[string]bool{
	"local_cert": true, "local_pk": true, "passphrase": true, "cafile": true, "capath": true,
	"verify_peer": true, "verify_peer_name": true, "allow_self_signed": true,
	"SNI_enabled": true, "peer_name": true,
}

func ignoredKeys(opts laravelcfg.TLSOptions) []string {
	arr := opts.Raw.ArrayVal()
	if arr == nil {
		return nil
	}
	var out []string
	for _, k := range arr.Keys {
		name := k.S
		if k.IsInt {
			name = strconv.FormatInt(k.I, 10)
		}
		if !knownKeys[name] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// ErrNoCertificate is wrapped by errors about a file without a certificate.
var ErrNoCertificate = errors.New("no PEM certificate found")
