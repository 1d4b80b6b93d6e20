package ledger

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// cluster applies every operation to every node's ledger in one order, as
// the bus does, and keeps what each node would report (its own decisions).
type cluster struct {
	t      *testing.T
	nodes  []string
	ledger map[string]*Ledger
	all    map[string][]Decision // every decision each ledger computed
	sent   []Decision            // decisions reported by their sender
	seq    int
}

func newCluster(t *testing.T, nodes ...string) *cluster {
	c := &cluster{t: t, nodes: nodes, ledger: map[string]*Ledger{}, all: map[string][]Decision{}}
	for _, n := range nodes {
		c.ledger[n] = New()
	}
	return c
}

func (c *cluster) ref(node string) string {
	c.seq++
	return fmt.Sprintf("%s:%d", node, c.seq)
}

// apply runs op on every ledger; decisions must be identical everywhere.
func (c *cluster) apply(op func(l *Ledger) []Decision) []Decision {
	c.t.Helper()
	var first []Decision
	for i, n := range c.nodes {
		d := op(c.ledger[n])
		c.all[n] = append(c.all[n], d...)
		if i == 0 {
			first = d
		} else if !reflect.DeepEqual(d, first) {
			c.t.Fatalf("node %s decided %v, node %s decided %v", n, d, c.nodes[0], first)
		}
		for _, x := range d {
			if x.Sender == n {
				c.sent = append(c.sent, x)
			}
		}
	}
	return first
}

func (c *cluster) count(node, channel string, n int) []Decision {
	r := c.ref(node)
	return c.apply(func(l *Ledger) []Decision { return l.Count(node, r, "app", channel, n, 0, true, false) })
}

func (c *cluster) join(node, channel, socket, user string) []Decision {
	r := c.ref(node)
	return c.apply(func(l *Ledger) []Decision { return l.Join(node, r, "app", channel, socket, user, user, false) })
}

func (c *cluster) leave(node, channel, socket string) []Decision {
	r := c.ref(node)
	return c.apply(func(l *Ledger) []Decision { return l.Leave(node, r, "app", channel, socket) })
}

func (c *cluster) commit(node, hold string) []Decision {
	return c.apply(func(l *Ledger) []Decision { return l.Commit(node, hold) })
}

func (c *cluster) claim(claimer, gone string, hb uint64) []Decision {
	r := c.ref(claimer)
	return c.apply(func(l *Ledger) []Decision { return l.Claim(claimer, r, gone, hb) })
}

func (c *cluster) heartbeat(node string, n uint64) {
	c.apply(func(l *Ledger) []Decision { l.Heartbeat(node, n); return nil })
}

// reported renders what was reported, by sender, holds excluded.
func (c *cluster) reported() string {
	var b []string
	for _, d := range c.sent {
		if d.Kind == HoldStart {
			continue
		}
		s := d.Sender + " " + d.Kind.String() + " " + d.Channel
		if d.UserID != "" {
			s += " " + d.UserID
		}
		if d.Kind == SubscriptionCount {
			s += fmt.Sprintf(" %d", d.Count)
		}
		b = append(b, s)
	}
	return strings.Join(b, "; ")
}

func holdOf(ds []Decision) string {
	for _, d := range ds {
		if d.Kind == HoldStart {
			return d.Hold
		}
	}
	return ""
}

func TestOccupiedAndVacatedOnceAcrossNodes(t *testing.T) {
	c := newCluster(t, "a", "b", "c")
	c.count("a", "news", 1)
	c.count("b", "news", 1)
	c.count("a", "news", 2)
	c.count("a", "news", 0)
	h := holdOf(c.count("b", "news", 0))
	if h == "" {
		t.Fatal("no hold for the vacate")
	}
	c.commit("b", h)
	want := "a channel_created news; a channel_occupied news; b channel_removed news; b channel_vacated news"
	if got := c.reported(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestReoccupiedWithinHoldCancelsBoth(t *testing.T) {
	c := newCluster(t, "a", "b")
	c.count("a", "news", 1)
	h := holdOf(c.count("a", "news", 0))
	c.count("b", "news", 1) // back on another node before the hold ends
	if d := c.commit("a", h); d != nil {
		t.Errorf("a cancelled hold committed: %v", d)
	}
	// Reverb's events are not held: created/removed/created.
	want := "a channel_created news; a channel_occupied news; a channel_removed news; b channel_created news"
	if got := c.reported(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// The commit lost the race: the channel is occupied; its next vacate
	// is held and committed normally.
	h2 := holdOf(c.count("b", "news", 0))
	c.commit("b", h2)
	if got := c.reported(); !strings.HasSuffix(got, "b channel_removed news; b channel_vacated news") {
		t.Errorf("got %s", got)
	}
}

func TestCommitAfterReoccupyIsVoidButLaterCommitOrderMatters(t *testing.T) {
	// The commit is ordered before the re-occupy: vacated, then occupied.
	c := newCluster(t, "a", "b")
	c.count("a", "x", 1)
	h := holdOf(c.count("a", "x", 0))
	c.commit("a", h)
	c.count("b", "x", 1)
	want := "a channel_created x; a channel_occupied x; a channel_removed x; a channel_vacated x; b channel_created x; b channel_occupied x"
	if got := c.reported(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestMembersOncePerUserAndHeldRemoval(t *testing.T) {
	c := newCluster(t, "a", "b")
	c.join("a", "presence-r", "s1", "7")
	c.join("b", "presence-r", "s2", "7") // same user on another node
	c.join("b", "presence-r", "s3", "8")
	c.leave("a", "presence-r", "s1") // 7 still on b
	h := holdOf(c.leave("b", "presence-r", "s2"))
	c.join("a", "presence-r", "s4", "7") // back within the hold
	if d := c.commit("b", h); d != nil {
		t.Errorf("cancelled removal committed: %v", d)
	}
	h8 := holdOf(c.leave("b", "presence-r", "s3"))
	c.commit("b", h8)
	want := "a member_added presence-r 7; b member_added presence-r 8; b member_removed presence-r 8"
	if got := c.reported(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// Joining twice with the same socket changes nothing; with another
	// user id it is a leave and a join.
	c.join("a", "presence-r", "s4", "7")
	if d := c.join("a", "presence-r", "s4", "9"); len(d) != 2 || d[0].Kind != HoldStart || d[1].Kind != MemberAdded {
		t.Errorf("user change: %v", d)
	}
}

func TestClaimRemovesAGoneNodeOnceAndPassesItsHolds(t *testing.T) {
	c := newCluster(t, "a", "b", "c")
	c.heartbeat("c", 4)
	c.count("c", "only-c", 2)
	c.count("c", "shared", 1)
	c.count("a", "shared", 1)
	c.join("c", "presence-p", "s1", "5")
	c.count("c", "held", 1)
	hc := holdOf(c.count("c", "held", 0)) // c holds a vacate when it dies
	if hc == "" {
		t.Fatal("no hold")
	}
	before := len(c.sent)
	// Node c dies: a and b both claim it (after a node_gone notice).
	ds := c.claim("a", "c", 4)
	if void := c.claim("b", "c", 4); void != nil {
		t.Errorf("second claim not void: %v", void)
	}
	holds := map[string]Kind{}
	for _, d := range ds {
		if d.Kind == HoldStart {
			if d.Sender != "a" {
				t.Errorf("hold for %s", d.Sender)
			}
			holds[d.Hold] = d.Held
		}
	}
	if len(holds) != 3 || holds[hc] != ChannelVacated {
		t.Fatalf("holds %v (c's own %s)", holds, hc)
	}
	for id := range holds {
		c.commit("a", id)
	}
	var got []string
	for _, d := range c.sent[before:] {
		if d.Kind != HoldStart {
			got = append(got, d.Sender+" "+d.Kind.String()+" "+d.Channel)
		}
	}
	want := "a channel_removed only-c|a channel_vacated held|a channel_vacated only-c|a member_removed presence-p"
	sortStrings(got)
	if strings.Join(got, "|") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, "|"), want)
	}
	// A commit from the dead holder arriving late is void.
	if d := c.commit("c", hc); d != nil {
		t.Errorf("dead holder's commit: %v", d)
	}
}

func TestStaleClaimIsVoid(t *testing.T) {
	c := newCluster(t, "a", "b")
	c.heartbeat("b", 1)
	c.count("b", "x", 1)
	c.heartbeat("b", 2) // b is alive; a's claim saw only heartbeat 1
	if d := c.claim("a", "b", 1); d != nil {
		t.Errorf("stale claim applied: %v", d)
	}
	if d := c.claim("a", "zz", 0); d != nil {
		t.Errorf("claim of an unknown node: %v", d)
	}
	// A node without entries is forgotten at its node_gone; one with
	// entries is kept for its claim.
	c.heartbeat("e", 1)
	c.apply(func(l *Ledger) []Decision { l.Forget("e"); l.Forget("b"); return nil })
	if _, ok := c.ledger["a"].LastHeartbeat("e"); ok {
		t.Error("empty node not forgotten")
	}
	if d := c.claim("a", "b", 2); len(d) == 0 {
		t.Error("a node with entries must stay claimable")
	}
}

func TestSubscriptionCountThrottle(t *testing.T) {
	l := New()
	var got []int
	for i, n := range []int{1, 2, 2, 101, 102, 103, 104, 3, 0} {
		for _, d := range l.Count("a", fmt.Sprint(i), "app", "ch", n, int64(i)*1000, false, true) {
			if d.Kind == SubscriptionCount {
				got = append(got, d.Count)
			}
		}
	}
	// Above 100, one report per 5 s: the last was 2 at t=1s, so 101 (t=3s),
	// 102 and 103 are not reported, 104 (t=6s) is; 3 and 0 are.
	if fmt.Sprint(got) != "[1 2 104 3 0]" {
		t.Errorf("counts %v", got)
	}
	for _, d := range l.Count("a", "p", "app", "presence-x", 3, 0, false, false) {
		if d.Kind == SubscriptionCount {
			t.Error("presence channels have no subscription_count")
		}
	}
}

func TestClaimReportsTheNewSubscriptionCount(t *testing.T) {
	c := newCluster(t, "a", "b")
	r1, r2 := c.ref("a"), c.ref("b")
	c.apply(func(l *Ledger) []Decision { return l.Count("a", r1, "app", "x", 2, 0, false, true) })
	c.apply(func(l *Ledger) []Decision { return l.Count("b", r2, "app", "x", 3, 0, false, true) })
	c.claim("a", "b", 0)
	if got := c.reported(); got != "a channel_created x; a channel_occupied x; a subscription_count x 2; b subscription_count x 5; a subscription_count x 2" {
		t.Errorf("got %s", got)
	}
}

func TestLateJoinerSyncsFromStates(t *testing.T) {
	c := newCluster(t, "a", "b")
	c.count("a", "x", 2)
	c.count("b", "x", 1)
	c.join("a", "presence-p", "s1", "1")
	// d joins: the others answer with their state; d applies them.
	d := New()
	for _, n := range []string{"a", "b"} {
		counts := map[string]int{}
		members := map[string][]Entry{}
		switch n {
		case "a":
			counts["x"], counts["presence-p"] = 2, 1
			members["presence-p"] = []Entry{{Socket: "s1", UserKey: "1", UserID: "1"}}
		case "b":
			counts["x"] = 1
		}
		for _, dec := range d.State(n, n+":state", "app", counts, members, true, nil) {
			if dec.Sender == "d" {
				t.Errorf("d reports %v while syncing", dec)
			}
		}
	}
	c.nodes = append(c.nodes, "d")
	c.ledger["d"] = d
	// From now on d decides like everyone else.
	c.count("d", "x", 1)
	c.join("d", "presence-p", "s9", "1")
	c.count("a", "x", 0)
	c.count("b", "x", 0)
	h := holdOf(c.count("d", "x", 0))
	c.commit("d", h)
	if got := c.reported(); !strings.HasSuffix(got, "a member_added presence-p 1; d channel_removed x; d channel_vacated x") {
		t.Errorf("got %s", got)
	}
	// A state that matches changes nothing; one that drops a socket is a
	// leave by its node.
	if ds := d.State("b", "b:s2", "app", map[string]int{}, nil, true, nil); len(ds) != 0 {
		t.Errorf("same state: %v", ds)
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// TestRandomOperationsStayConsistent runs random histories: every ledger
// decides the same, and what is reported per channel and per user
// alternates (never occupied twice without a vacate in between, ...),
// ending where the state ends.
func TestRandomOperationsStayConsistent(t *testing.T) {
	for seed := uint64(0); seed < 200; seed++ {
		r := rand.New(rand.NewPCG(seed, 1))
		c := newCluster(t, "a", "b", "c")
		local := map[string]map[string]int{} // node → channel → count
		sockets := map[string]string{}       // node/socket → user (presence)
		var holds []Decision
		chans := []string{"x", "y"}
		for step := 0; step < 200; step++ {
			node := c.nodes[r.IntN(len(c.nodes))]
			switch r.IntN(4) {
			case 0, 1:
				ch := chans[r.IntN(2)]
				if local[node] == nil {
					local[node] = map[string]int{}
				}
				n := max(0, local[node][ch]+r.IntN(3)-1)
				local[node][ch] = n
				holds = append(holds, c.count(node, ch, n)...)
			case 2:
				sock := fmt.Sprint(r.IntN(4))
				k := node + "/" + sock
				if _, in := sockets[k]; in {
					delete(sockets, k)
					holds = append(holds, c.leave(node, "presence-p", sock)...)
				} else {
					u := fmt.Sprint(r.IntN(3))
					sockets[k] = u
					holds = append(holds, c.join(node, "presence-p", sock, u)...)
				}
			case 3:
				if len(holds) > 0 {
					i := r.IntN(len(holds))
					h := holds[i]
					holds = append(holds[:i], holds[i+1:]...)
					if h.Kind == HoldStart {
						c.commit(h.Sender, h.Hold)
					}
				}
			}
		}
		for _, h := range holds {
			if h.Kind == HoldStart {
				c.commit(h.Sender, h.Hold)
			}
		}
		// Alternation per channel (webhook view) and per user.
		state := map[string]bool{}
		for _, d := range c.sent {
			var key string
			var on bool
			switch d.Kind {
			case ChannelOccupied, ChannelVacated:
				key, on = "c:"+d.Channel, d.Kind == ChannelOccupied
			case ChannelCreated, ChannelRemoved:
				key, on = "r:"+d.Channel, d.Kind == ChannelCreated
			case MemberAdded, MemberRemoved:
				key, on = "u:"+d.UserID, d.Kind == MemberAdded
			default:
				continue
			}
			if state[key] == on {
				t.Fatalf("seed %d: %s twice in a row: %s", seed, d.Kind, c.reported())
			}
			state[key] = on
		}
		for _, ch := range chans {
			total := 0
			for _, m := range local {
				total += m[ch]
			}
			if state["c:"+ch] != (total > 0) || state["r:"+ch] != (total > 0) {
				t.Fatalf("seed %d: channel %s ends with %d subscribers, reported %v/%v", seed, ch, total, state["c:"+ch], state["r:"+ch])
			}
		}
		users := map[string]bool{}
		for _, u := range sockets {
			users[u] = true
		}
		for _, u := range []string{"0", "1", "2"} {
			if state["u:"+u] != users[u] {
				t.Fatalf("seed %d: user %s present=%v, reported %v", seed, u, users[u], state["u:"+u])
			}
		}
		if l := c.ledger["a"]; len(l.holds) != 0 {
			t.Fatalf("seed %d: holds left %v", seed, l.holds)
		}
	}
}

func TestPresentCountsHeldRemovals(t *testing.T) {
	c := newCluster(t, "a", "b")
	present := func(user string) bool {
		p := c.ledger["a"].Present("app", "\x00users", user)
		if q := c.ledger["b"].Present("app", "\x00users", user); q != p {
			t.Fatalf("nodes disagree on %s: %v %v", user, p, q)
		}
		return p
	}
	if present("7") {
		t.Fatal("present before any join")
	}
	c.join("a", "\x00users", "s1", "7")
	h := holdOf(c.leave("a", "\x00users", "s1"))
	if !present("7") {
		t.Error("a user whose removal is held is still present for watchers")
	}
	c.commit("a", h)
	if present("7") || c.ledger["a"].Size() != 0 {
		t.Errorf("present after the removal committed (%d channels kept)", c.ledger["a"].Size())
	}
}

// A count held back by the throttle is reported when its 5 s are over, so
// the last count subscribers get is the channel's.
func TestThrottledSubscriptionCountIsReportedLater(t *testing.T) {
	c := newCluster(t, "a", "b")
	cnt := func(node string, n int, tms int64) []Decision {
		r := c.ref(node)
		return c.apply(func(l *Ledger) []Decision { return l.Count(node, r, "app", "x", n, tms, false, true) })
	}
	cnt("a", 60, 1000)
	cnt("b", 40, 1500)       // 100 at t=1.5s: reported
	ds := cnt("b", 45, 2000) // 105: held back, a hold ends the window (t=6.5s)
	if len(ds) != 1 || ds[0].Kind != HoldStart || ds[0].Sender != "b" || ds[0].Held != SubscriptionCount || ds[0].Delay != 4500 {
		t.Fatalf("decisions %+v", ds)
	}
	if got := cnt("a", 70, 3000); len(got) != 0 { // 115: the hold is pending already
		t.Fatalf("decisions %+v", got)
	}
	c.commit("b", ds[0].Hold)
	if got := c.reported(); got != "a channel_created x; a channel_occupied x; a subscription_count x 60; b subscription_count x 100; b subscription_count x 115" {
		t.Errorf("got %s", got)
	}
	// The window restarts at the commit: 116 at t=7s is held again.
	ds = cnt("a", 71, 7000)
	if len(ds) != 1 || ds[0].Kind != HoldStart || ds[0].Delay != 4500 {
		t.Fatalf("decisions %+v", ds)
	}
	// Back to 100 or fewer: reported at once; the hold then has nothing to add.
	cnt("a", 55, 7500)
	c.commit("a", ds[0].Hold)
	if got := c.reported(); !strings.HasSuffix(got, "b subscription_count x 115; a subscription_count x 100") {
		t.Errorf("got %s", got)
	}
	// A pending hold of a channel that emptied reports nothing.
	ds = cnt("a", 80, 8000) // 125: held
	if len(ds) != 1 || ds[0].Kind != HoldStart {
		t.Fatalf("decisions %+v", ds)
	}
	cnt("a", 0, 8200)
	cnt("b", 0, 8300)
	before := c.reported()
	if !strings.HasSuffix(before, "a subscription_count x 100; a subscription_count x 45; b channel_removed x; b subscription_count x 0") {
		t.Errorf("got %s", before)
	}
	c.commit("a", ds[0].Hold)
	if got := c.reported(); got != before {
		t.Errorf("after the commit: %s", strings.TrimPrefix(got, before))
	}
}

// A presence channel emptied by its last members: member_removed comes
// before channel_vacated, as Pusher and soketi send them, although the
// vacate's hold started first (a socket's count leaves before its presence
// leave). The node that commits the vacate reports them all, so that one
// batch to the endpoint keeps the order.
func TestMembersAreRemovedBeforeTheirChannelIsVacated(t *testing.T) {
	c := newCluster(t, "a", "b")
	c.count("a", "presence-r", 1)
	c.join("a", "presence-r", "s1", "7")
	c.count("b", "presence-r", 1)
	c.join("b", "presence-r", "s2", "8")
	c.count("b", "presence-r", 0)
	hb := holdOf(c.leave("b", "presence-r", "s2"))
	hv := holdOf(c.count("a", "presence-r", 0))
	ha := holdOf(c.leave("a", "presence-r", "s1"))
	var got []string
	for _, d := range c.commit("a", hv) {
		got = append(got, d.Sender+" "+d.Kind.String()+" "+d.UserID)
	}
	if want := []string{"a member_removed 7", "a member_removed 8", "a channel_vacated "}; !reflect.DeepEqual(got, want) {
		t.Errorf("commit of the vacate: got %q, want %q", got, want)
	}
	if d := c.commit("a", ha); d != nil {
		t.Errorf("a removal reported again: %v", d)
	}
	if d := c.commit("b", hb); d != nil {
		t.Errorf("a removal reported again: %v", d)
	}
	if l := c.ledger["b"]; len(l.holds) != 0 || l.Size() != 0 {
		t.Errorf("left holds %v, %d channels", l.holds, l.Size())
	}
	// A member back before the vacate commits is no removal at all.
	c.count("a", "presence-q", 1)
	c.join("a", "presence-q", "s3", "9")
	hv = holdOf(c.count("a", "presence-q", 0))
	c.leave("a", "presence-q", "s3")
	c.join("a", "presence-q", "s4", "9")
	c.count("a", "presence-q", 1)
	if d := c.commit("a", hv); d != nil {
		t.Errorf("a cancelled vacate committed: %v", d)
	}
	if r := c.reported(); strings.Contains(r, "presence-q 9;") && strings.Count(r, "member_added presence-q") != 1 || strings.Contains(r, "member_removed presence-q") {
		t.Errorf("reported %s", r)
	}
}

func (c *cluster) joinCounted(node, channel, socket, user string) []Decision {
	r := c.ref(node)
	return c.apply(func(l *Ledger) []Decision { return l.Join(node, r, "app", channel, socket, user, user, true) })
}

// A presence subscription's join travels before its count: its
// member_added waits for the channel_occupied, as Pusher and soketi send
// channel_occupied first, reported by the node whose count occupied it. A
// socket gone before its count came was never a member for the webhooks.
func TestMemberIsAddedAfterItsChannelIsOccupied(t *testing.T) {
	c := newCluster(t, "a", "b")
	c.joinCounted("a", "presence-r", "s1", "7")
	c.joinCounted("b", "presence-r", "s2", "8")
	c.count("a", "presence-r", 1)
	c.count("b", "presence-r", 1)
	c.joinCounted("b", "presence-r", "s3", "9") // occupied already: at once
	want := "a channel_created presence-r; a channel_occupied presence-r; a member_added presence-r 7; a member_added presence-r 8; b member_added presence-r 9"
	if got := c.reported(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	c.joinCounted("a", "presence-q", "s4", "5")
	if d := c.leave("a", "presence-q", "s4"); d != nil {
		t.Errorf("a member never added left: %v", d)
	}
	if got := c.reported(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if l := c.ledger["a"]; l.Size() != 1 {
		t.Errorf("%d channels tracked", l.Size())
	}
}

// A ledger that missed some of a node's operations (its subscription
// dropped while the others went on publishing) takes that node's state in
// place of what it held: a departure it missed starts no hold of its own,
// which its holder would never commit (the member would stay "back within
// the hold" for ever, the channel "vacated"); the holder's own pending
// hold, adopted, still commits.
func TestStateAfterMissedOperations(t *testing.T) {
	a, b := New(), New()
	both := func(op func(l *Ledger) []Decision) { op(a); op(b) }
	both(func(l *Ledger) []Decision { return l.Count("a", "a:1", "app", "presence-x", 2, 0, true, false) })
	both(func(l *Ledger) []Decision { return l.Join("a", "a:2", "app", "presence-x", "s1", "1", "1", false) })
	both(func(l *Ledger) []Decision { return l.Join("a", "a:3", "app", "presence-x", "s2", "2", "2", false) })
	both(func(l *Ledger) []Decision { return l.Count("a", "a:4", "app", "public", 1, 0, true, false) })
	// b misses these: user 2 leaves (a holds its removal), public empties
	// (a holds its vacate, then commits it).
	a.Leave("a", "a:5", "app", "presence-x", "s2")
	a.Count("a", "a:6", "app", "public", 0, 0, true, false)
	if ds := a.Commit("a", "a:6"); len(ds) != 1 || ds[0].Kind != ChannelVacated {
		t.Fatalf("a's commit of the vacate: %v", ds)
	}
	// b asks again: a's state and its pending holds replace what b had.
	ds := b.State("a", "a:7", "app", map[string]int{"presence-x": 1},
		map[string][]Entry{"presence-x": {{Socket: "s1", UserKey: "1", UserID: "1"}}}, true, a.Holds("a", "app"))
	for _, d := range ds {
		if d.Kind == HoldStart || d.Kind == MemberRemoved {
			t.Errorf("b started a hold for, or decided, a departure a decided or holds already: %+v", d)
		}
	}
	// a's pending removal commits on both alike.
	da, db := a.Commit("a", "a:5"), b.Commit("a", "a:5")
	if !reflect.DeepEqual(da, db) || len(da) != 1 || da[0].Kind != MemberRemoved {
		t.Fatalf("commit of user 2's removal: a decided %v, b %v", da, db)
	}
	// User 2 back (on b), public subscribed (on b): both ledgers agree that
	// these are a new member and an occupied channel.
	da, db = a.Join("b", "b:1", "app", "presence-x", "t1", "2", "2", false), b.Join("b", "b:1", "app", "presence-x", "t1", "2", "2", false)
	if !reflect.DeepEqual(da, db) || len(da) != 1 || da[0].Kind != MemberAdded {
		t.Errorf("user 2 back: a decided %v, b %v", da, db)
	}
	da, db = a.Count("b", "b:2", "app", "public", 1, 0, true, false), b.Count("b", "b:2", "app", "public", 1, 0, true, false)
	if !reflect.DeepEqual(da, db) || len(da) != 2 || da[1].Kind != ChannelOccupied {
		t.Errorf("public subscribed again: a decided %v, b %v", da, db)
	}
}

// The subscription count a ledger last reported changes with a state that
// lists other counts (changes it missed): the new count is decided, with
// the state's node as sender (which reported it already), so that every
// node tells its own subscribers.
func TestStateDecidesTheMissedSubscriptionCount(t *testing.T) {
	a, b := New(), New()
	for _, l := range []*Ledger{a, b} {
		l.Count("a", "a:1", "app", "orders", 2, 0, false, true)
	}
	a.Count("a", "a:2", "app", "orders", 5, CountThrottleMS, false, true) // b misses it
	ds := b.State("a", "a:3", "app", map[string]int{"orders": 5}, nil, false, nil)
	want := []Decision{{Kind: SubscriptionCount, Sender: "a", App: "app", Channel: "orders", Count: 5}}
	if !reflect.DeepEqual(ds, want) {
		t.Fatalf("b decided %+v, want %+v", ds, want)
	}
	if ds := b.State("a", "a:4", "app", map[string]int{"orders": 5}, nil, false, nil); len(ds) != 0 {
		t.Fatalf("the same state again decided %+v", ds)
	}
}

// A user gone unseen whose removal its node committed already is decided
// removed at once by the state (with that node as sender, which reported
// it): watchers on every node hear that it went offline.
func TestStateDecidesARemovalCommittedUnseen(t *testing.T) {
	a, b := New(), New()
	for _, l := range []*Ledger{a, b} {
		l.Join("a", "a:1", "app", "#online", "s1", "7", "7", false)
	}
	a.Leave("a", "a:2", "app", "#online", "s1") // b misses the leave...
	a.Commit("a", "a:2")                        // ...and its commit
	ds := b.State("a", "a:3", "app", nil, nil, false, a.Holds("a", "app"))
	want := []Decision{{Kind: MemberRemoved, Sender: "a", App: "app", Channel: "#online", UserID: "7"}}
	if !reflect.DeepEqual(ds, want) {
		t.Fatalf("b decided %+v, want %+v", ds, want)
	}
}
