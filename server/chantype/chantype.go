// Package chantype classifies Pusher channel names the way Reverb does: by
// prefix, case-sensitive, without requiring the dash ("privatefoo" is
// private). The prefix order matters: "private-cache-" must win over
// "private", and "cache" over the public default.
package chantype

import "strings"

// Kind is the type of a channel, decided by its name alone.
type Kind uint8

// The channel kinds of Reverb's ChannelManager, in no particular order.
const (
	Public Kind = iota
	Private
	Presence
	Cache
	PrivateCache
	PresenceCache
)

// prefixes is Reverb's lookup table, checked top to bottom.
var prefixes = [...]struct {
	prefix string
	kind   Kind
}{
	{"private-cache-", PrivateCache},
	{"presence-cache-", PresenceCache},
	{"cache", Cache},
	{"private", Private},
	{"presence", Presence},
}

// Of returns the kind of the channel named name.
func Of(name string) Kind {
	for _, p := range prefixes {
		if strings.HasPrefix(name, p.prefix) {
			return p.kind
		}
	}
	return Public
}

// Private reports whether subscribing needs an auth signature (private,
// presence and their cache variants).
func (k Kind) Private() bool {
	return k == Private || k == Presence || k == PrivateCache || k == PresenceCache
}

// Presence reports whether the channel tracks members (presence and
// presence-cache).
func (k Kind) Presence() bool { return k == Presence || k == PresenceCache }

// Cache reports whether the channel remembers its last message.
func (k Kind) Cache() bool { return k == Cache || k == PrivateCache || k == PresenceCache }

// String names the kind for logs.
func (k Kind) String() string {
	switch k {
	case Public:
		return "public"
	case Private:
		return "private"
	case Presence:
		return "presence"
	case Cache:
		return "cache"
	case PrivateCache:
		return "private-cache"
	case PresenceCache:
		return "presence-cache"
	}
	return "unknown"
}
