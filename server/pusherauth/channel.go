// Package pusherauth checks the two HMAC signatures of the Pusher protocol
// exactly as Reverb computes them: channel authorization (private and
// presence subscriptions) and HTTP API request signatures, including PHP
// parse_str's reading of the query string and ksort's key order.
package pusherauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// sign is lowercase hex HMAC-SHA256, PHP's hash_hmac('sha256', msg, secret).
func sign(secret, msg string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	var sum [sha256.Size]byte
	return hex.EncodeToString(m.Sum(sum[:0]))
}

// ChannelSignature is the hex signature Reverb expects for socketID on
// channel: HMAC-SHA256 of "socketID:channel", plus ":channelData" when
// channelData is truthy in PHP (non-empty and not "0").
func ChannelSignature(secret, socketID, channel, channelData string) string {
	msg := socketID + ":" + channel
	if channelData != "" && channelData != "0" {
		msg += ":" + channelData
	}
	return sign(secret, msg)
}

// ValidChannelAuth reports whether auth (the subscribe message's "auth":
// "key:signature" or a bare signature) authorizes socketID on channel. Only
// the part after the first ':' is compared, in constant time; the key part
// is not checked (as in Reverb). channelData (exactly as received) takes part
// when hasChannelData. An absent or null auth is passed as "" and fails.
func ValidChannelAuth(secret, socketID, channel string, channelData string, hasChannelData bool, auth string) bool {
	if !hasChannelData {
		channelData = ""
	}
	if _, after, ok := strings.Cut(auth, ":"); ok {
		auth = after
	}
	want := ChannelSignature(secret, socketID, channel, channelData)
	return hmac.Equal([]byte(want), []byte(auth))
}

// UserSignature is the hex signature of a user sign-in (pusher:signin) for
// socketID: HMAC-SHA256 of "socketID::user::userData", what Pusher's server
// SDKs' authenticateUser and Laravel's PusherBroadcaster sign.
func UserSignature(secret, socketID, userData string) string {
	return sign(secret, socketID+"::user::"+userData)
}

// ValidUserAuth reports whether auth ("key:signature", as the SDKs send it)
// signs userData for socketID. As for channels, only the part after the
// first ':' is compared, in constant time.
func ValidUserAuth(secret, socketID, userData, auth string) bool {
	if _, after, ok := strings.Cut(auth, ":"); ok {
		auth = after
	}
	want := UserSignature(secret, socketID, userData)
	return hmac.Equal([]byte(want), []byte(auth))
}
