// Package pusherauth checks the two HMAC signatures of the Pusher protocol
// exactly as Reverb computes them: channel authorization (private/presence
// subscriptions) and HTTP API request signatures, including PHP parse_str's
// reading of the query string.
package pusherauth

import "time"

// ChannelSignature is hex(HMAC-SHA256(secret, socketID:channel[:channelData]))
// with channelData included only when non-empty.
func ChannelSignature(secret, socketID, channel, channelData string) string { return "" }

// ValidChannelAuth reports whether auth (the subscribe message's "auth",
// "key:signature" or a bare signature) authorizes socketID on channel. Only
// the part after the first ':' is compared, in constant time; the key part is
// not checked (as in Reverb). channelData takes part when hasChannelData and
// non-empty. An absent or null auth is passed as "" and fails.
func ValidChannelAuth(secret, socketID, channel string, channelData string, hasChannelData bool, auth string) bool {
	return false
}

// APIOptions are the opt-in checks Reverb does not make.
type APIOptions struct {
	// MaxAge, when > 0, rejects requests whose auth_timestamp is further than
	// MaxAge from Now (Pusher's own servers use 600 s). Reverb has no such
	// check, so zero (off) is the default.
	MaxAge time.Duration
	// Now is the clock for MaxAge; nil means time.Now.
	Now func() time.Time
}

// VerifyAPI reports whether an HTTP API request carries a valid
// auth_signature for secret. rawPath is the request path as sent (not
// percent-decoded), query the raw query string, body the raw body. The
// signature is accepted over rawPath itself and over rawPath with any of
// prefixes (server path prefixes such as "/ws") cut off.
func VerifyAPI(secret, method, rawPath, query string, body []byte, prefixes ...string) bool {
	return false
}

// VerifyAPIWith is VerifyAPI plus the opt-in checks of opts.
func VerifyAPIWith(opts APIOptions, secret, method, rawPath, query string, body []byte, prefixes ...string) bool {
	return false
}

// StringToSign is Reverb's "METHOD\npath\nsorted params" for a request, with
// the server-computed body_md5 when body is non-empty.
func StringToSign(method, path string, params *Params, body []byte) string { return "" }

// Params is the result of PHP parse_str: an ordered PHP array whose values
// are strings or nested Params.
type Params struct {
	Keys   []ParamKey
	Values []ParamValue
}

// ParamKey is a PHP array key: an int when the name was a canonical decimal
// integer, otherwise a string.
type ParamKey struct {
	IsInt bool
	I     int64
	S     string
}

// ParamValue is a string or (when Array is non-nil) a nested array.
type ParamValue struct {
	S     string
	Array *Params
}

// ParseStr is PHP's parse_str($query, $result).
func ParseStr(query string) *Params { return &Params{} }

// Get returns the top-level value named name (after PHP key normalisation).
func (p *Params) Get(name string) (ParamValue, bool) { return ParamValue{}, false }
