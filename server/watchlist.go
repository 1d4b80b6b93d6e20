package server

// Watchlists and subscription counts: Pusher's events that every node sends
// to its own sockets from one cluster-wide decision.
//
// Who is online is kept by the cluster ledger (decisions.go) as the members
// of a pseudo channel, onlineChannel, with a user's signed-in sockets as its
// memberships: a sign-in is a tracked join, a sign-out a leave, a gone node
// a claim. So a user comes online once for the whole cluster (first socket
// anywhere), goes offline once (last socket anywhere, after the hold, so a
// reload or a draining restart does not flap), and a late node learns who
// is online from the others' ledger state. Every node computes the same
// decisions in the bus order; unlike webhooks, which only the sender
// reports, each node tells its own watchers (act on every node).
//
// Subscription counts are the ledger's SubscriptionCount decision (already
// throttled as Pusher does: at most one per 5 s above 100 subscribers):
// every node sends pusher_internal:subscription_count to its own
// subscribers of the channel, the sender also reports the webhook.

import (
	"encoding/json"
	"strconv"

	"github.com/reverb-go/reverb/server/ledger"
	"github.com/reverb-go/reverb/server/phpjson"
)

// onlineChannel is the ledger's name for an app's signed-in users. A real
// channel of that name (clients can name channels anything) only shares
// the ledger's subscriber counts, which never meet the memberships.
const onlineChannel = "\x00users"

// typeUser is a sign-in or sign-out of a socket of an app with watchlist
// events: Go-only, PHP Reverb nodes ignore it.
const typeUser = "reverb-go:user"

const (
	userSignin  = "signin"
	userSignout = "signout"
)

// userMsg is a typeUser message.
type userMsg struct {
	Type   string `json:"type"`
	Node   string `json:"node"`
	App    string `json:"app"`
	Op     string `json:"op"`
	Socket string `json:"socket"`
	User   string `json:"user"`
	Seq    uint64 `json:"seq"`
}

// userOp publishes a sign-in or sign-out of a local socket through the
// ledger's gate, and keeps it in this node's own part (its state for late
// joiners). Caller holds a.mu.
func (s *Server) userOp(a *appState, socket, op, user string) {
	led := a.led
	k := onlineChannel + "\x00" + socket
	if op == userSignin {
		led.ownMembers[k] = ownMembership{onlineChannel, socket, user, user}
	} else {
		delete(led.ownMembers, k)
	}
	ls := led.ls
	msg, _ := json.Marshal(userMsg{Type: typeUser, Node: s.nodeID, App: a.cfg.ID, Op: op, Socket: socket, User: user, Seq: ls.seq.Add(1)})
	ls.send(msg)
}

// onUserMessage applies a sign-in or sign-out from the bus. The node of a
// signed-in socket then registers its watchlist and sends it the current
// status of the users it watches: everything decided before this point of
// the bus order is in that status, everything after reaches it as events.
func (s *Server) onUserMessage(msg []byte) {
	var m userMsg
	if err := json.Unmarshal(msg, &m); err != nil {
		s.logError("cluster: undecodable user message: " + err.Error())
		return
	}
	ls := s.ledger
	a := s.appByID(m.App)
	if ls == nil || a == nil || a.led == nil || !a.led.watch || m.User == "" {
		return
	}
	ref := m.Node + ":" + strconv.FormatUint(m.Seq, 10)
	switch m.Op {
	case userSignin:
		ls.apply(func(l *ledger.Ledger) []ledger.Decision {
			return l.Join(m.Node, ref, m.App, onlineChannel, m.Socket, m.User, m.User, false)
		})
		if m.Node == s.nodeID {
			s.startWatching(a, m.Socket, m.User)
		}
	case userSignout:
		ls.apply(func(l *ledger.Ledger) []ledger.Decision {
			return l.Leave(m.Node, ref, m.App, onlineChannel, m.Socket)
		})
	}
}

// startWatching registers the watchlist of a local socket signed in as
// user, and sends it who of it is online and who is not. Runs on the
// delivery goroutine, the only one that changes the ledger.
func (s *Server) startWatching(a *appState, socket, user string) {
	a.mu.Lock()
	c := a.conns[socket]
	var cu *connUser
	if c != nil {
		cu = a.users.conns[c]
	}
	if cu == nil || cu.id != user {
		a.mu.Unlock()
		return // closed or signed in again meanwhile: its own messages follow
	}
	a.users.unwatch(c, cu)
	list := cu.watchlist
	if a.users.watchers == nil {
		a.users.watchers = map[string]map[*conn]struct{}{}
	}
	for _, id := range list {
		w := a.users.watchers[id]
		if w == nil {
			w = map[*conn]struct{}{}
			a.users.watchers[id] = w
		}
		w[c] = struct{}{}
	}
	cu.watching = list
	a.mu.Unlock()
	if len(list) == 0 {
		return
	}
	var online, offline []string
	ls := s.ledger
	ls.mu.Lock()
	for _, id := range list {
		if ls.l.Present(a.cfg.ID, onlineChannel, id) {
			online = append(online, id)
		} else {
			offline = append(offline, id)
		}
	}
	ls.mu.Unlock()
	c.send(textFrame(watchlistText(online, offline)))
}

// unwatch removes c's registered watchlist. Caller holds a.mu.
func (u *appUsers) unwatch(c *conn, cu *connUser) {
	for _, id := range cu.watching {
		if w := u.watchers[id]; w != nil {
			delete(w, c)
			if len(w) == 0 {
				delete(u.watchers, id)
			}
		}
	}
	cu.watching = nil
}

// watchlistText is pusher_internal:watchlist_events with an online and an
// offline event for the ids given (either may be empty and is then left
// out), the data a JSON string as Pusher's clients read it.
func watchlistText(online, offline []string) []byte {
	d := []byte(`{"events":[`)
	first := true
	for _, ev := range []struct {
		name string
		ids  []string
	}{{"online", online}, {"offline", offline}} {
		if len(ev.ids) == 0 {
			continue
		}
		if !first {
			d = append(d, ',')
		}
		first = false
		d = append(d, `{"name":"`...)
		d = append(d, ev.name...)
		d = append(d, `","user_ids":[`...)
		for i, id := range ev.ids {
			if i > 0 {
				d = append(d, ',')
			}
			d = phpjson.AppendString(d, id)
		}
		d = append(d, "]}"...)
	}
	d = append(d, "]}"...)
	return internalText("pusher_internal:watchlist_events", d, "")
}

// notifyWatchers tells this node's watchers of user that it came online or
// went offline.
func (s *Server) notifyWatchers(a *appState, user string, online bool) {
	a.mu.Lock()
	w := a.users.watchers[user]
	conns := make([]*conn, 0, len(w))
	for c := range w {
		conns = append(conns, c)
	}
	a.mu.Unlock()
	if len(conns) == 0 {
		return
	}
	ids := []string{user}
	var text []byte
	if online {
		text = watchlistText(ids, nil)
	} else {
		text = watchlistText(nil, ids)
	}
	frame := textFrame(text)
	for _, c := range conns {
		c.send(frame)
	}
}

// actEverywhere is what every node does with a ledger decision, whoever
// reports it: watchers hear of users coming online and going offline,
// subscribers of their channel's new subscription count.
func (s *Server) actEverywhere(d ledger.Decision) {
	a := s.appByID(d.App)
	if a == nil {
		return
	}
	switch {
	case d.Channel == onlineChannel && (d.Kind == ledger.MemberAdded || d.Kind == ledger.MemberRemoved):
		s.notifyWatchers(a, d.UserID, d.Kind == ledger.MemberAdded)
	case d.Kind == ledger.SubscriptionCount && a.cfg.SubscriptionCount:
		s.sendSubscriptionCount(a, d.Channel, d.Count)
	}
}

// sendSubscriptionCount tells this node's subscribers of channel its
// cluster-wide subscriber count.
func (s *Server) sendSubscriptionCount(a *appState, channel string, n int) {
	a.mu.Lock()
	ch := a.channels[channel]
	var subs []*sub
	if ch != nil {
		subs = ch.subscribers()
		ch.count = n
		ch.counts++
	}
	a.mu.Unlock()
	if len(subs) == 0 {
		return
	}
	s.fanout(a, channel, subs, subscriptionCountText(channel, n), nil)
}

// subscriptionCountText is pusher_internal:subscription_count.
func subscriptionCountText(channel string, n int) []byte {
	d := strconv.AppendInt([]byte(`{"subscription_count":`), int64(n), 10)
	d = append(d, '}')
	return internalText("pusher_internal:subscription_count", d, channel)
}
