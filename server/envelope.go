package server

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/reverb-go/reverb/server/phpjson"
)

// Bus messages: the envelope every node reads, the message types, and the
// encoders of the messages several files send.

// envelope is every message on the transport. Reverb's own types
// (message, metrics, metric responses, terminate) keep Reverb's JSON shape
// (§10.2) so PHP nodes can share a Redis channel with us; the Go-only types
// are prefixed "reverb-go:" and PHP nodes ignore them.
type envelope struct {
	Type        string          `json:"type"`
	Application string          `json:"application,omitempty"`
	Payload     json.RawMessage `json:"payload,omitempty"`
	SocketID    string          `json:"socket_id,omitempty"`

	// Go-only fields.
	//
	// Socket is a presence message's socket id. It must not travel as
	// socket_id: a PHP Reverb node looks any top-level socket_id up among
	// the connections of the message's application, and a Go-only
	// message has none (PHP would throw a TypeError).
	Socket      string          `json:"socket,omitempty"`
	Ref         string          `json:"reverb_go_ref,omitempty"`
	Node        string          `json:"node,omitempty"`
	NodeID      string          `json:"node_id,omitempty"`
	App         string          `json:"app,omitempty"`
	Op          string          `json:"op,omitempty"`
	Channel     string          `json:"channel,omitempty"`
	ChannelData string          `json:"channel_data,omitempty"`
	For         string          `json:"for,omitempty"`
	Entries     []snapshotEntry `json:"entries,omitempty"`
	// Counts are a heartbeat's open sockets per app id (max_connections
	// is enforced over the cluster with these, a heartbeat late).
	Counts map[string]int64 `json:"counts,omitempty"`
	// Routing is "interest" on a heartbeat of a node in the interest-routed
	// mode (routing.go); Cache is a fetched cache channel's last event.
	Routing string `json:"routing,omitempty"`
	Cache   string `json:"cache,omitempty"`

	// The cluster ledger's fields (decisions.go). Seq numbers this node's
	// ledger messages (hold ids derive from node and Seq); HB numbers its
	// heartbeats (a claim quotes the last one seen); N is a count
	// message's subscribers; T its publisher's clock (ms); Hold asks for
	// held vacates (count) or marks a membership the ledger tracks
	// (presence); Counted marks a tracked join whose subscription a count
	// message follows; SubCount asks for subscription counts; Ledger is a
	// ledger state message's content.
	Seq      uint64          `json:"seq,omitempty"`
	HB       uint64          `json:"hb,omitempty"`
	N        *int            `json:"n,omitempty"`
	T        int64           `json:"t,omitempty"`
	Hold     bool            `json:"hold,omitempty"`
	Counted  bool            `json:"counted,omitempty"`
	SubCount bool            `json:"subcount,omitempty"`
	Ledger   json.RawMessage `json:"ledger,omitempty"`
}

// snapshotEntry is one presence membership in a node's snapshot.
type snapshotEntry struct {
	App         string `json:"app"`
	Channel     string `json:"channel"`
	SocketID    string `json:"socket_id"`
	ChannelData string `json:"channel_data"`
}

// Go-only message types.
const (
	typePresence  = "reverb-go:presence"
	typeHeartbeat = "reverb-go:heartbeat"
	typeHello     = "reverb-go:hello"
	typeSnapshot  = "reverb-go:snapshot"
	typeNodeGone  = "reverb-go:node_gone"
	typeBarrier   = "reverb-go:barrier"
	// The cluster ledger's (decisions.go).
	typeCount  = "reverb-go:count"
	typeCommit = "reverb-go:commit"
	typeClaim  = "reverb-go:claim"
	// typeLedgerState is one app's ledger state, sent to a node that said
	// hello; it comes before the node's snapshot.
	typeLedgerState = "reverb-go:ledger_state"
)

// appToken is what goes where Reverb puts serialize($application): the
// PHP-serialized Laravel\Reverb\Application (phpwire.go), so PHP Reverb
// nodes on the same Redis channel can read our messages.
var appToken = phpApplicationToken

// wireApp is the application token of a broadcast or terminate: Reverb's
// serialized Application for PHP nodes in the classic routing; the bare app
// id in the interest routing (no PHP node reads it, and it is a few hundred
// bytes less on every message).
func wireApp(a *appState) string {
	if a.router != nil {
		return a.cfg.ID
	}
	return appToken(a)
}

// appIDFromToken reads the app id back from a token: our own (the bare id)
// or a PHP-serialized Laravel\Reverb\Application.
func appIDFromToken(tok string) string {
	if !strings.HasPrefix(tok, "O:") {
		return tok
	}
	const marker = "s:5:\"\x00*\x00id\";s:"
	i := strings.Index(tok, marker)
	if i < 0 {
		return ""
	}
	rest := tok[i+len(marker):]
	j := strings.IndexByte(rest, ':')
	if j < 0 {
		return ""
	}
	n, err := strconv.Atoi(rest[:j])
	if err != nil || n < 0 || len(rest) < j+2+n {
		return ""
	}
	return rest[j+2 : j+2+n]
}

func presenceMsg(node, app, op, channel, socket, channelData string, tracked, counted bool, seq uint64) []byte {
	b, _ := json.Marshal(envelope{Type: typePresence, Node: node, App: app, Op: op, Channel: channel, Socket: socket,
		ChannelData: channelData, Hold: tracked, Counted: counted, Seq: seq})
	return b
}

// messageMsg builds a §10.2 "message" around an already PHP-JSON payload.
func messageMsg(app *appState, payload []byte, socketID string) []byte {
	b := make([]byte, 0, 64+len(payload))
	b = append(b, `{"type":"message","application":`...)
	b = phpjson.AppendString(b, wireApp(app))
	b = append(b, `,"payload":`...)
	b = append(b, payload...)
	if socketID != "" {
		b = append(b, `,"socket_id":`...)
		b = phpjson.AppendString(b, socketID)
	}
	return append(b, '}')
}

// eventPayload is the payload of a "message".
type eventPayload struct {
	Event    json.RawMessage `json:"event"`
	Channel  *string         `json:"channel"`
	Channels []string        `json:"channels"`
	Data     json.RawMessage `json:"data"`
}

// appendPHPRaw re-encodes a JSON string with PHP's escapes, and copies any
// other JSON value as it is.
func appendPHPRaw(b []byte, raw json.RawMessage) []byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	if raw[0] == '"' {
		var str string
		if json.Unmarshal(raw, &str) == nil {
			return phpjson.AppendString(b, str)
		}
	}
	return append(b, raw...)
}
