package server

// Pusher's user features, beyond Reverb: sign-in (pusher:signin), events to
// a user (#server-to-user-{id}), terminate_connections for signed-in users,
// and the authorization deadline of apps with enable_user_authentication.
// Watchlists are in watchlist.go.
//
// Sign-in is local to the node that holds the socket: the HTTP API's
// events and terminate notices already reach every node (the bus), and
// each node delivers to its own signed-in sockets. Only watchlists need a
// cluster-wide view (who is online), which the ledger keeps.

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/server/phpjson"
	"github.com/reverb-go/reverb/server/pusherauth"
)

// userChannelPrefix starts the channel Pusher's server SDKs publish to in
// sendToUser: "#server-to-user-" and the user id.
const userChannelPrefix = "#server-to-user-"

// userChannel returns the user id of a #server-to-user-{id} channel.
func userChannel(name string) (string, bool) {
	id, ok := strings.CutPrefix(name, userChannelPrefix)
	return id, ok && id != ""
}

// appUsers is one app's signed-in sockets and authorization deadlines on
// this node. Guarded by appState.mu; the maps are made on first use, so an
// app that never sees a sign-in pays nothing.
type appUsers struct {
	// conns holds the sockets with a sign-in or a pending deadline.
	conns map[*conn]*connUser
	// byID is the signed-in sockets of each user id.
	byID map[string][]*conn
	// watchers is watched user id → the local sockets watching it
	// (watchlist.go).
	watchers map[string]map[*conn]struct{}
}

// connUser is one socket's sign-in state.
type connUser struct {
	id        string   // "" until signed in
	member    string   // the user as a presence channel_data (signedUser.member)
	watchlist []string // from user_data, when the app has watchlist events
	// watching is the watchlist registered in appUsers.watchers, once the
	// sign-in came back through the bus.
	watching []string
	// held: signed in, not answered yet (fence.go): events to the user
	// skip the socket; answers are the frames its sign-ins are owed.
	held    bool
	answers [][]byte
	// deadline closes the socket when it has not signed in (nor
	// subscribed to a private or presence channel) in time; nil once
	// authorized or when the app sets no deadline.
	deadline *time.Timer
}

// state returns c's entry, made when missing. Caller holds a.mu.
func (u *appUsers) state(c *conn) *connUser {
	if u.conns == nil {
		u.conns = map[*conn]*connUser{}
		u.byID = map[string][]*conn{}
	}
	cu := u.conns[c]
	if cu == nil {
		cu = &connUser{}
		u.conns[c] = cu
	}
	return cu
}

// authorize ends c's deadline: it signed in, or subscribed to a private or
// presence channel (Pusher's authorized connection). Caller holds a.mu.
func (u *appUsers) authorize(c *conn) {
	cu := u.conns[c]
	if cu == nil {
		return
	}
	if cu.deadline != nil {
		cu.deadline.Stop()
		cu.deadline = nil
	}
	if cu.id == "" {
		delete(u.conns, c) // nothing else to remember
	}
}

// signedUser is what a valid user_data says.
type signedUser struct {
	id string
	// member is the user as presence channel_data, {"user_id": id,
	// "user_info": …}: Pusher's member for a presence subscription of the
	// signed-in socket that comes without channel_data.
	member    string
	watchlist []string
	// truncated: the watchlist had more than watchlistMax ids.
	truncated bool
}

// watchlistMax is Pusher's limit of a watchlist: the first 100 ids count.
const watchlistMax = 100

// errNoUserID: user_data without a usable id (answered with msgNoUserID).
var errNoUserID = errors.New("user_data has no id")

// parseUserData reads a sign-in's user_data as Pusher does: a JSON object
// whose "id" is a non-empty string (an integer is taken as its decimal
// string; pusher-js itself accepts only strings). With watch, its
// "watchlist" (a list of ids) is read too, the first watchlistMax distinct
// ones.
func parseUserData(s string, watch bool) (signedUser, error) {
	var u signedUser
	v, err := phpjson.Decode([]byte(s))
	if err != nil || v.Kind() != php.Array {
		return u, errNoUserID
	}
	id, _ := field(v, "id")
	if u.id = userIDString(id); u.id == "" {
		return u, errNoUserID
	}
	m := php.NewArray()
	m.Set(php.StringKey("user_id"), php.StringValue(u.id))
	if info, ok := field(v, "user_info"); ok {
		m.Set(php.StringKey("user_info"), info)
	}
	u.member = string(phpjson.Append(nil, php.ArrayValue(m)))
	if !watch {
		return u, nil
	}
	wl, _ := field(v, "watchlist")
	if wl.Kind() != php.Array {
		return u, nil
	}
	seen := map[string]bool{}
	for _, x := range wl.ArrayVal().Values {
		w := userIDString(x)
		if w == "" || seen[w] {
			continue
		}
		if len(u.watchlist) == watchlistMax {
			u.truncated = true
			break
		}
		seen[w] = true
		u.watchlist = append(u.watchlist, w)
	}
	return u, nil
}

// userIDString is a user id as Pusher's ids are: a non-empty string, or an
// integer as its decimal string; "" for anything else.
func userIDString(v php.Value) string {
	switch v.Kind() {
	case php.String:
		return v.StringVal()
	case php.Int:
		return strconv.FormatInt(v.IntVal(), 10)
	}
	return ""
}

// Frames of sign-in.
var (
	frameSigninRefused = func(msg string) []byte { return textFrame(errorText(4009, msg)) }
	frameWatchlistCut  = func() []byte {
		return textFrame(errorText(4302, "Watchlist limit exceeded. Only the first 100 user IDs are accepted."))
	}
)

const (
	msgNotAuthorized = "Connection not authorized."
	msgOtherUser     = "Connection is already signed in as another user."
	msgAuthTimeout   = "Connection not authorized within timeout."
	msgNoUserID      = `The returned user data must contain the "id" field.`
)

// signinSuccessText is pusher:signin_success with the user_data as signed.
func signinSuccessText(userData string) []byte {
	d := make([]byte, 0, 16+len(userData)*2)
	d = append(d, `{"user_data":`...)
	d = phpjson.AppendString(d, userData)
	d = append(d, '}')
	return pusherText("pusher:signin_success", d, "")
}

// signin handles pusher:signin: auth is "key:HMAC-SHA256(socket_id::user::
// user_data)" with the app secret. A sign-in that does not verify closes
// the socket with 4009, as Pusher does.
func (c *conn) signin(payload php.Value) bool {
	a := c.app
	auth, _ := field(payload, "auth")
	ud, _ := field(payload, "user_data")
	if auth.Kind() != php.String || ud.Kind() != php.String ||
		!pusherauth.ValidUserAuth(a.cfg.Secret, c.id, ud.StringVal(), auth.StringVal()) {
		c.refuseSignin(msgNotAuthorized)
		return false
	}
	u, err := parseUserData(ud.StringVal(), a.cfg.WatchlistEvents)
	if err != nil {
		c.refuseSignin(msgNoUserID)
		return false
	}
	return c.srv.signIn(c, u, ud.StringVal())
}

func (c *conn) refuseSignin(msg string) {
	c.closeNow(4009, msg, false, frameSigninRefused(msg))
	c.debugPusherError(msg)
}

// signIn records c as signed in as u. A socket signs in as one user: the
// same user again updates its watchlist, another user is refused.
func (s *Server) signIn(c *conn, u signedUser, userData string) bool {
	a := c.app
	a.mu.Lock()
	if a.conns[c.id] != c {
		a.mu.Unlock()
		return false // closed meanwhile: its cleanup ran
	}
	cu := a.users.state(c)
	if cu.id != "" && cu.id != u.id {
		a.mu.Unlock()
		c.refuseSignin(msgOtherUser)
		return false
	}
	first := cu.id == ""
	if first {
		a.users.byID[u.id] = append(a.users.byID[u.id], c)
	}
	cu.id, cu.member, cu.watchlist = u.id, u.member, u.watchlist
	a.users.authorize(c)
	answer := [][]byte{textFrame(signinSuccessText(userData))}
	if u.truncated {
		answer = append(answer, frameWatchlistCut())
	}
	if cu.held || first && s.hasPeers() {
		// A client that moved here from another node (a restart's 4200)
		// had there the events to its user that node delivered before
		// the close: answered once the bus's order has passed the
		// sign-in, the socket gets those published after it only
		// (fence.go), as a subscription does.
		if !cu.held {
			cu.held = true
			s.fence(fenceItem{signin: c})
		}
		cu.answers = append(cu.answers, answer...)
		a.mu.Unlock()
		return true
	}
	s.answerSignin(a, c, cu, answer)
	a.mu.Unlock()
	return true
}

// answerSignin sends a sign-in's answer and, with watchlist events,
// publishes it. Caller holds a.mu.
func (s *Server) answerSignin(a *appState, c *conn, cu *connUser, answer [][]byte) {
	// Queued under the lock: the watchlist's status (startWatching, which
	// takes the lock) comes after them.
	for _, f := range answer {
		c.send(f)
	}
	if led := a.led; led != nil && led.watch {
		// Published under the lock, in order with this socket's sign-out.
		s.userOp(a, c.id, userSignin, cu.id)
	}
}

// ackSignin answers the sign-ins of a socket held by the fence, unless it
// closed meanwhile, and lets events to its user reach it.
func (s *Server) ackSignin(c *conn) {
	a := c.app
	a.mu.Lock()
	defer a.mu.Unlock()
	cu := a.users.conns[c]
	if cu == nil || !cu.held {
		return
	}
	answer := cu.answers
	cu.held, cu.answers = false, nil
	s.answerSignin(a, c, cu, answer)
}

// userGone forgets a closed socket's sign-in and deadline. Caller holds
// a.mu (disconnect).
func (s *Server) userGone(a *appState, c *conn) {
	cu := a.users.conns[c]
	if cu == nil {
		return
	}
	delete(a.users.conns, c)
	if cu.deadline != nil {
		cu.deadline.Stop()
	}
	if cu.id == "" {
		return
	}
	list := a.users.byID[cu.id]
	for i, x := range list {
		if x == c {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(a.users.byID, cu.id)
	} else {
		a.users.byID[cu.id] = list
	}
	a.users.unwatch(c, cu)
	// A drained node's users go offline when it is claimed, after the
	// hold, like its presence members (decisions.go).
	// One whose sign-in was never answered never published it.
	if led := a.led; led != nil && led.watch && !s.draining.Load() && !cu.held {
		s.userOp(a, c.id, userSignout, cu.id)
	}
}

// subscribeUserChannel answers a subscription to #server-to-user-{id}
// (pusher-js makes it after signin_success): only the socket signed in as
// that user may have it. Events to the user reach its signed-in sockets
// whether or not they subscribed, so no channel is created.
func (s *Server) subscribeUserChannel(c *conn, uid, name string) bool {
	a := c.app
	a.mu.Lock()
	cu := a.users.conns[c]
	ok := cu != nil && cu.id == uid
	a.mu.Unlock()
	if !ok {
		c.send(frameUnauth())
		c.debugPusherError("Connection is unauthorized")
		return false
	}
	c.send(textFrame(internalText("pusher_internal:subscription_succeeded", nil, name)))
	return true
}

// sendToUser delivers an event published on #server-to-user-{uid} to every
// signed-in socket of that user on this node, but except.
func (s *Server) sendToUser(a *appState, uid, channel string, text []byte, except string) {
	a.mu.Lock()
	var conns []*conn
	for _, c := range a.users.byID[uid] {
		if cu := a.users.conns[c]; cu == nil || !cu.held { // held: not answered yet (fence.go)
			conns = append(conns, c)
		}
	}
	a.mu.Unlock()
	frame := textFrame(text)
	n := 0
	for _, c := range conns {
		if c.id == except || !c.enqueue(frame) {
			continue
		}
		n++
		if a.wants(MessageDelivered) {
			a.emit(Event{Kind: MessageDelivered, SocketID: c.id, Origin: c.origin, Channel: channel, Data: text})
		}
	}
	a.emit(Event{Kind: Broadcast, Channel: channel, Data: text, Count: n})
}

// signedInAs appends the local sockets signed in as uid. Caller holds a.mu.
func (u *appUsers) signedInAs(out []*conn, uid string) []*conn {
	return append(out, u.byID[uid]...)
}

// startDeadline arms the authorization deadline of a new socket of an app
// with enable_user_authentication. The timer is stopped when the socket
// signs in, subscribes to a private or presence channel, or closes
// (disconnect), so Close leaves none running.
func (s *Server) startDeadline(a *appState, c *conn) {
	d := a.cfg.UserAuthenticationTimeout
	if d <= 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conns[c.id] != c {
		return
	}
	cu := a.users.state(c)
	cu.deadline = time.AfterFunc(d, func() { s.deadlinePassed(a, c) })
}

// deadlinePassed closes a socket that is still not authorized, as Pusher
// does: pusher:error 4009, then the close frame.
func (s *Server) deadlinePassed(a *appState, c *conn) {
	a.mu.Lock()
	cu := a.users.conns[c]
	late := cu != nil && cu.deadline != nil
	if late {
		cu.deadline = nil
	}
	a.mu.Unlock()
	if late {
		c.closeNow(4009, msgAuthTimeout, false, frameSigninRefused(msgAuthTimeout))
	}
}
