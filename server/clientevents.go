package server

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/server/chantype"
	"github.com/reverb-go/reverb/server/phpjson"
)

// clientEvent handles an event not starting with "pusher:" (§3.6). The
// data goes out as the client sent it (compatibility decision: no PHP
// re-encoding of {} to []); a data string holding JSON goes out decoded,
// as Reverb sends it.
func (c *conn) clientEvent(raw []byte, name string, msg, data php.Value) bool {
	chv, ok := field(msg, "channel")
	if !ok || chv.Kind() != php.String || laravelBlank(chv.StringVal()) {
		return c.invalid()
	}
	// Laravel's validator skips the array rule for a blank string: it is
	// relayed as sent.
	if data.Kind() != php.Null && data.Kind() != php.Array && (data.Kind() != php.String || !laravelBlank(data.StringVal())) {
		return c.invalid()
	}
	if !strings.HasPrefix(name, "client-") {
		return true
	}
	channel := chv.StringVal()
	a := c.app
	mode := a.cfg.AcceptClientEventsFrom
	// Reverb refuses a client event by sending the error and returning, not
	// by throwing: the message counts as handled (MessageReceived fires).
	if mode != "all" && mode != "members" {
		c.send(frameNoClient())
		return true
	}
	if _, ok := userChannel(channel); ok {
		// Events to a user come from the app's server only.
		c.send(frameNotMem())
		return true
	}
	fields, err := rawObject(raw)
	if err != nil {
		return c.invalid()
	}
	rawData := []byte("null")
	var sentData json.RawMessage
	for _, f := range fields {
		if f.key == "data" {
			rawData = dataAsSent(f.value)
			sentData = f.value
		}
	}
	if l := &a.cfg.Limits; l.EventNameLength > 0 || l.EventPayloadBytes > 0 {
		if msg := clientEventLimit(l, name, sentData); msg != "" {
			c.send(textFrame(nullCodeError(msg)))
			c.debugPusherError(msg)
			return false
		}
	}
	var sb *sub
	if mode == "members" || a.wants(ClientEvent) {
		a.mu.Lock()
		if ch := a.channels[channel]; ch != nil {
			sb = c.subOf(ch)
		}
		a.mu.Unlock()
	}
	var payload []byte
	if mode == "members" {
		if sb == nil {
			c.send(frameNotMem())
			return true
		}
		payload = make([]byte, 0, 48+len(name)+len(channel)+len(rawData))
		payload = append(payload, `{"event":`...)
		payload = phpjson.AppendString(payload, name)
		payload = append(payload, `,"channel":`...)
		payload = phpjson.AppendString(payload, channel)
		payload = append(payload, `,"data":`...)
		payload = append(payload, rawData...)
		if uid, ok := field(sb.data, "user_id"); ok && truthy(uid) {
			payload = append(payload, `,"user_id":`...)
			payload = phpjson.Append(payload, uid)
		}
		payload = append(payload, '}')
	} else {
		// "all": the client's message with all its keys, in its order.
		payload = append(payload, '{')
		for i, f := range fields {
			if i > 0 {
				payload = append(payload, ',')
			}
			payload = phpjson.AppendString(payload, f.key)
			payload = append(payload, ':')
			if f.key == "data" {
				payload = append(payload, rawData...)
			} else {
				payload = append(payload, f.value...)
			}
		}
		payload = append(payload, '}')
	}
	if a.wants(ClientEvent) {
		e := Event{Kind: ClientEvent, SocketID: c.id, Origin: c.origin, Channel: channel, Name: name, Data: sentData}
		if sb != nil && chantype.Of(channel).Presence() {
			if uid, ok := field(sb.data, "user_id"); ok && uid.Kind() != php.Null {
				e.UserID = phpString(uid)
			}
		}
		a.emit(e)
	}
	c.srv.publishEvent(a, channel, messageMsg(a, payload, c.id))
	return true
}

type rawField struct {
	key   string
	value json.RawMessage
}

// rawObject splits a JSON object into its members in order, values kept
// as raw JSON (the last of duplicate keys wins, in the first's place, as
// PHP's decoder does).
func rawObject(b []byte) ([]rawField, error) {
	return rawObjectFrom(json.NewDecoder(bytes.NewReader(b)))
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func rawObjectFrom(dec *json.Decoder) ([]rawField, error) {
	dec.UseNumber()
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, errNotObject
	}
	var out []rawField
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := kt.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		replaced := false
		for i := range out {
			if out[i].key == k {
				out[i].value = v
				replaced = true
			}
		}
		if !replaced {
			out = append(out, rawField{k, v})
		}
	}
	return out, nil
}

type notObjectError struct{}

func (notObjectError) Error() string { return "not a JSON object" }

var errNotObject error = notObjectError{}

// dataAsSent is the data value to relay: as sent, except that a string
// holding a JSON object or list is sent decoded (Reverb decodes it).
func dataAsSent(v json.RawMessage) []byte {
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) == nil {
			t := strings.TrimSpace(s)
			if len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid([]byte(t)) {
				return []byte(t)
			}
		}
	}
	return v
}
