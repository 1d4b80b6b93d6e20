package server

import (
	"github.com/reverb-go/reverb/laravelcfg"
)

// The observer seam: every lifecycle event of a node goes through one
// interface, and the node's counters (Pulse, Prometheus), --debug,
// webhooks and Reverb's events for PHP listeners are its consumers.
//
// Cost. Each app has a mask of the kinds some observer wants (Interest is
// asked once per app when the server starts); an event nobody wants is
// one AND and a branch where it happens, nothing more. A broadcast is one
// Broadcast event per channel carrying the number of deliveries; one
// MessageDelivered per recipient is built only when an observer of that
// app wants it (Reverb's MessageSent listeners do), and then costs an
// observer call per delivery.
//
// Exactly once. Local events (connections, messages, client events, cache
// misses, local subscription changes) are reported by the node they happen
// on. Cluster-wide decisions (ChannelCreated/Removed, ChannelOccupied/
// Vacated, MemberAdded/Removed, SubscriptionCount) are taken in the bus's
// one order by every node alike and reported on exactly one of them
// (ledger.go).

// EventKind names one kind of lifecycle event; kinds are bits so an
// observer's interest is one mask.
type EventKind uint32

// Local events: reported by the node where they happen.
const (
	// ConnectionOpened: a socket was accepted (after the app, quota and
	// origin checks) and got pusher:connection_established.
	ConnectionOpened EventKind = 1 << iota
	// ConnectionClosed: a socket of a known app went away, for any reason;
	// Established says whether ConnectionOpened was reported for it.
	ConnectionClosed
	// ConnectionPruned: the sweep closed a socket that missed its pong
	// (Reverb's ConnectionPruned).
	ConnectionPruned
	// ConnectionPinged: the sweep pinged an inactive socket.
	ConnectionPinged
	// Sweep: a phase of the ping/prune sweep starts (Name "prune" or "ping").
	Sweep
	// MessageIn: a data message arrived, before any check (Data is it).
	MessageIn
	// MessageReceived: a client message was handled without a Pusher error
	// (Reverb's MessageReceived: pusher:ping, subscribes and client events
	// included, and client events refused with 4009 or 4301, which Reverb
	// answers without failing the message). Data is the message as the client sent it; Channel is the
	// channel it names, when it names one.
	MessageReceived
	// MessageError: a client message was answered with an error: Name
	// "pusher" (a Pusher error; Data is its message) or "unknown" (4200
	// Invalid message format).
	MessageError
	// ControlFrame: a ping, pong or close control frame arrived (Name
	// "ping", "pong" or "close"; Data is its payload).
	ControlFrame
	// MessageSent: one text frame was queued to one socket outside a
	// broadcast (connection_established, pong, errors, subscription
	// frames): Reverb's MessageSent for those. Frames that must precede
	// what the channel sends next (subscription_succeeded, signin_success)
	// are queued, and reported, with the app's lock held.
	MessageSent
	// Broadcast: one message was queued to Count local subscribers of
	// Channel (Data is its text).
	Broadcast
	// MessageDelivered: one recipient of a Broadcast (Reverb's MessageSent
	// for broadcast frames). Built only when an observer asks for it: it
	// costs an observer call per delivery.
	MessageDelivered
	// ClientEvent: a client event was accepted for relaying (Name, Data as
	// the client sent it, UserID on presence channels).
	ClientEvent
	// CacheMiss: a subscriber of a cache channel got pusher:cache_miss.
	CacheMiss
	// Subscribed and Unsubscribed: a socket of this node joined or left
	// Channel; Count is the channel's subscribers on this node afterwards.
	// Reported with the app's lock held: observers must not call back into
	// the server.
	Subscribed
	Unsubscribed
	// CloseSent: the server queued a close frame for the socket (Count is
	// the code, Name the reason), once per connection.
	CloseSent
)

// Cluster-wide decisions: reported on exactly one node of the cluster.
const (
	// ChannelCreated and ChannelRemoved: the channel got its first
	// subscriber on any node, or lost its last one (Reverb's ChannelCreated
	// and ChannelRemoved, for the whole cluster).
	ChannelCreated EventKind = CloseSent << (1 + iota)
	ChannelRemoved
	// ChannelOccupied and ChannelVacated: Pusher's webhook events. Vacated
	// is held three seconds and dropped, together with the Occupied that
	// would follow, when the channel is occupied again meanwhile.
	ChannelOccupied
	ChannelVacated
	// MemberAdded and MemberRemoved: a user joined a presence channel on
	// any node, or left it on all of them (UserID). Removed is held and
	// cancelled like ChannelVacated.
	MemberAdded
	MemberRemoved
	// SubscriptionCount: the channel's subscribers over the cluster changed
	// to Count (throttled to one per five seconds above 100 subscribers).
	SubscriptionCount
)

// Event is one lifecycle event. Fields that do not apply to its kind are
// zero. Byte slices are only valid during Observe.
type Event struct {
	Kind EventKind
	App  *laravelcfg.App
	// SocketID and Origin name the socket (local events).
	SocketID string
	Origin   string
	Channel  string
	// Name is a client event's name, or a sweep phase.
	Name string
	// Data is the message text, a client event's data as sent, or a
	// pruned socket's channel data (ConnectionPruned: the JSON of its first
	// channel's channel_data, nil when that took none).
	Data []byte
	// UserID is a presence user id as a string.
	UserID string
	// Count: deliveries of a Broadcast, a channel's subscribers.
	Count int
	// Established: ConnectionClosed of a socket reported opened.
	Established bool
}

// Observer consumes lifecycle events.
type Observer interface {
	// Interest returns the kinds the observer wants for app; it is asked
	// once per app when the server is built.
	Interest(app *laravelcfg.App) EventKind
	// Observe is called on the goroutine where the event happens: a
	// socket's reader, the bus delivery goroutine, the sweep. It must not
	// block (hand slow work to a goroutine of its own) and must copy what
	// it keeps of e's byte slices.
	Observe(e Event)
}

// observerEntry is one observer with its interest for one app.
type observerEntry struct {
	o    Observer
	mask EventKind
}

// observers of one app, fixed once the server is built: read without a
// lock.
type appObservers struct {
	want EventKind // union of the entries' masks
	list []observerEntry
}

func newAppObservers(cfg *laravelcfg.App, all []Observer) appObservers {
	var ao appObservers
	for _, o := range all {
		m := o.Interest(cfg)
		if m == 0 {
			continue
		}
		ao.want |= m
		ao.list = append(ao.list, observerEntry{o, m})
	}
	return ao
}

// wants reports whether an observer of this app wants kind k.
func (a *appState) wants(k EventKind) bool { return a.obs.want&k != 0 }

// emit reports e to the observers that want its kind. Callers check wants
// first on hot paths, so an event nobody wants is never built.
func (a *appState) emit(e Event) {
	if a.obs.want&e.Kind == 0 {
		return
	}
	e.App = a.cfg
	for _, x := range a.obs.list {
		if x.mask&e.Kind != 0 {
			x.o.Observe(e)
		}
	}
}

// sentFrame reports one text frame queued to c outside a broadcast (the
// send path's MessageSent hook; frame is the whole WebSocket frame).
func (c *conn) sentFrame(frame []byte) {
	a := c.app
	if !a.wants(MessageSent) {
		return
	}
	a.emit(Event{Kind: MessageSent, SocketID: c.id, Origin: c.origin, Data: framePayload(frame)})
}

// setupObservers builds the server's own consumers once, in New: --debug,
// and webhooks and the ledger when an app needs them now or may later (apps
// can be added at run time, apptable.go).
func (s *Server) setupObservers(apps []*appState) {
	need := s.opts.Refresh != nil
	for _, a := range apps {
		need = need || hasHooks(a.cfg)
	}
	if need {
		s.hooks = newHookObserver(s.logError)
	}
	s.setupLedger(apps)
	s.prepareApps(apps)
	if s.debug != nil {
		// Sockets of unknown apps: --debug still shows their close.
		s.noApp.obs = newAppObservers(s.noApp.cfg, []Observer{debugObserver{s}})
	}
}

// prepareApps gives new apps their observers (their counters, --debug,
// webhooks and listeners, Options.Observers) and their part of the ledger.
// It runs before the apps are published in the app table, in New or under
// the table's writer lock.
func (s *Server) prepareApps(apps []*appState) {
	if s.hooks != nil {
		s.hooks.add(apps)
	}
	var shared []Observer
	if s.debug != nil {
		shared = append(shared, debugObserver{s})
	}
	if s.hooks != nil {
		shared = append(shared, s.hooks)
	}
	shared = append(shared, s.opts.Observers...)
	for _, a := range apps {
		a.router = s.router
		all := append([]Observer{statsObserver{a.stats}}, shared...)
		a.obs = newAppObservers(a.cfg, all)
		s.ledgerApp(a)
	}
}
