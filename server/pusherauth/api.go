package pusherauth

import (
	"cmp"
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// excluded are the query parameters Reverb leaves out of the signed string.
var excluded = [...]string{"auth_signature", "body_md5", "appId", "appKey", "channelName"}

// ErrArrayToString is returned by StringToSign when a signed parameter is
// an array holding arrays: PHP's implode() then warns "Array to string
// conversion", which Laravel turns into an exception (Reverb answers 500).
var ErrArrayToString = errors.New("pusherauth: nested array in a signed query parameter (Array to string conversion)")

// APIOptions are the opt-in checks Reverb does not make.
type APIOptions struct {
	// MaxAge, when > 0, rejects requests whose auth_timestamp is further
	// than MaxAge from Now in either direction (Pusher's own servers use
	// 600 s). Reverb has no such check, so zero (off) is the default.
	MaxAge time.Duration
	// Now is the clock for MaxAge; nil means time.Now.
	Now func() time.Time
}

// VerifyAPI reports whether an HTTP API request carries a valid
// auth_signature for secret. method is the request method as sent, rawPath
// the request path as sent (not percent-decoded), query the raw query
// string, body the raw body. The signature is accepted over the path itself
// and over the path with each of prefixes (server path prefixes such as
// "/ws", as configured) cut off the way Reverb does it.
func VerifyAPI(secret, method, rawPath, query string, body []byte, prefixes ...string) bool {
	return VerifyAPIWith(APIOptions{}, secret, method, rawPath, query, body, prefixes...)
}

// VerifyAPIWith is VerifyAPI plus the opt-in checks of opts.
func VerifyAPIWith(opts APIOptions, secret, method, rawPath, query string, body []byte, prefixes ...string) bool {
	return VerifyParams(opts, secret, method, rawPath, ParseStr(query), body, prefixes...) == nil
}

// ErrSignature is a missing or wrong auth_signature (Reverb: 401
// "Authentication signature invalid.").
var ErrSignature = errors.New("pusherauth: authentication signature invalid")

// ErrExpired is an auth_timestamp outside APIOptions.MaxAge.
var ErrExpired = errors.New("pusherauth: auth_timestamp outside the accepted window")

// VerifyParams is VerifyAPIWith over an already parsed query. It returns
// nil, ErrSignature, ErrExpired or ErrArrayToString (a 500 in Reverb).
func VerifyParams(opts APIOptions, secret, method, rawPath string, params *Params, body []byte, prefixes ...string) error {
	given, ok := params.GetString("auth_signature")
	if !ok {
		return ErrSignature
	}
	path := GuzzlePath(rawPath)
	paths := make([]string, 1, 1+len(prefixes))
	paths[0] = path
	for _, pre := range prefixes {
		if pre = strings.TrimRight(pre, "/"); pre == "" {
			continue
		}
		if _, after, found := strings.Cut(path, pre); found {
			paths = append(paths, "/"+strings.TrimLeft(after, "/"))
		}
	}
	valid := false
	for i, p := range paths {
		if i > 0 && p == paths[0] {
			continue
		}
		toSign, err := StringToSign(method, p, params, body)
		if err != nil {
			return err
		}
		// Compare every candidate so timing does not reveal which matched.
		if hmac.Equal([]byte(sign(secret, toSign)), []byte(given)) {
			valid = true
		}
	}
	if !valid {
		return ErrSignature
	}
	if opts.MaxAge > 0 {
		now := time.Now
		if opts.Now != nil {
			now = opts.Now
		}
		ts, _ := params.GetString("auth_timestamp")
		t, err := strconv.ParseInt(strings.TrimSpace(ts), 10, 64)
		if err != nil {
			return ErrExpired
		}
		if d := now().Unix() - t; math.Abs(float64(d)) > opts.MaxAge.Seconds() {
			return ErrExpired
		}
	}
	return nil
}

// StringToSign is Reverb's "METHOD\npath\nsorted params" for a request:
// every parameter but the excluded ones, plus body_md5 computed over body
// when it is non-empty, in ksort order, joined as key=value with '&'
// (arrays imploded with ','), nothing URL-encoded.
func StringToSign(method, path string, params *Params, body []byte) (string, error) {
	type kv struct {
		k ParamKey
		v ParamValue
	}
	list := make([]kv, 0, params.Len()+1)
	for i, k := range params.Keys {
		if !k.IsInt && isExcluded(k.S) {
			continue
		}
		list = append(list, kv{k, params.Values[i]})
	}
	if len(body) > 0 {
		sum := md5.Sum(body)
		list = append(list, kv{ParamKey{S: "body_md5"}, ParamValue{S: hex.EncodeToString(sum[:])}})
	}
	// ksort with PHP's stable sort: ties (keys PHP finds equal, such as
	// 1 and "1.0") keep their order, as PHP breaks ties by position.
	pos := make([]int, len(list))
	for i := range pos {
		pos[i] = i
	}
	zendSort(0, len(list), func(a, b int) int {
		if c := php.CompareKeys(list[a].k, list[b].k); c != 0 {
			return c
		}
		return cmp.Compare(pos[a], pos[b])
	}, func(a, b int) {
		list[a], list[b] = list[b], list[a]
		pos[a], pos[b] = pos[b], pos[a]
	})
	var b strings.Builder
	b.WriteString(method)
	b.WriteByte('\n')
	b.WriteString(path)
	b.WriteByte('\n')
	for i, e := range list {
		if i > 0 {
			b.WriteByte('&')
		}
		if e.k.IsInt {
			b.WriteString(strconv.FormatInt(e.k.I, 10))
		} else {
			b.WriteString(e.k.S)
		}
		b.WriteByte('=')
		if e.v.Array == nil {
			b.WriteString(e.v.S)
			continue
		}
		for j, v := range e.v.Array.Values {
			if j > 0 {
				b.WriteByte(',')
			}
			if v.Array != nil {
				return "", ErrArrayToString
			}
			b.WriteString(v.S)
		}
	}
	return b.String(), nil
}

func isExcluded(name string) bool {
	for _, e := range excluded {
		if name == e {
			return true
		}
	}
	return false
}

// GuzzlePath is the request path as Guzzle's Uri holds it: characters
// outside RFC 3986's unreserved, sub-delims, ':', '@', '/' and '%' are
// percent-encoded (uppercase hex), and so is a '%' not followed by two hex
// digits. Existing escapes are kept as sent.
func GuzzlePath(raw string) string {
	clean := true
	for i := 0; i < len(raw); i++ {
		if !pathByteOK(raw, i) {
			clean = false
			break
		}
	}
	if clean {
		return raw
	}
	const hexUpper = "0123456789ABCDEF"
	b := make([]byte, 0, len(raw)+8)
	for i := 0; i < len(raw); i++ {
		if pathByteOK(raw, i) {
			b = append(b, raw[i])
		} else {
			b = append(b, '%', hexUpper[raw[i]>>4], hexUpper[raw[i]&15])
		}
	}
	return string(b)
}

func pathByteOK(s string, i int) bool {
	c := s[i]
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	case strings.IndexByte("_-.~!$&'()*+,;=:@/", c) >= 0:
		return true
	case c == '%':
		return i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2])
	}
	return false
}
