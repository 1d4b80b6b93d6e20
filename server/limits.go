package server

// Pusher's limits an app opted in to (laravelcfg.Limits), on the WebSocket
// side: client events' name and data, and presence channel members. The
// HTTP API's limits are in server/api (limits.go).

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server/api"
	"github.com/reverb-go/reverb/server/phpjson"
)

// clientEventLimit checks a client event against the app's limits; it
// returns the message of the pusher:error to answer with (nullCodeError),
// "" when within them. data is the event's data as the client sent it (raw
// JSON).
func clientEventLimit(l *laravelcfg.Limits, name string, data json.RawMessage) string {
	if l.EventNameLength > 0 && utf8.RuneCountInString(name) > l.EventNameLength {
		return api.NameTooLong(l.EventNameLength)
	}
	if l.EventPayloadBytes > 0 && dataSize(data) > l.EventPayloadBytes {
		return api.PayloadTooLarge(l.EventPayloadBytes)
	}
	return ""
}

// dataSize is the size of an event's data as Pusher counts it: a string's
// bytes, anything else's JSON text.
func dataSize(raw json.RawMessage) int {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return len(s)
		}
	}
	return len(raw)
}

// nullCodeError is a pusher:error without a code, as Pusher answers a
// client event over its limits.
func nullCodeError(message string) []byte {
	d := append([]byte(`{"code":null,"message":`), phpjson.AppendString(nil, message)...)
	return pusherText("pusher:error", append(d, '}'), "")
}

// presenceFullText is soketi's pusher:subscription_error for a presence
// channel at max_presence_members_per_channel (Pusher names no format).
func presenceFullText(channel string) []byte {
	return pusherText("pusher:subscription_error",
		[]byte(`{"type":"LimitReached","error":"`+presenceFullMessage+`","status":4100}`), channel)
}

const presenceFullMessage = "The maximum members per presence channel limit was reached"
