package server

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/server/api"
	"github.com/reverb-go/reverb/server/chantype"
	"github.com/reverb-go/reverb/server/phpjson"
)

// backend is the api.Backend view of a Server: cluster-wide answers
// gathered through the transport.
type backend struct{ s *Server }

var _ api.Backend = backend{}

func (b backend) app(cfg *laravelcfg.App) (*appState, error) {
	if cfg == nil {
		return nil, errors.New("server: nil app")
	}
	a := b.s.appByID(cfg.ID)
	if a == nil {
		return nil, errors.New("server: unknown app " + cfg.ID)
	}
	return a, nil
}

// AppByID finds an app by app_id (exact string comparison), asking the
// refresh source when it is not known yet (apptable.go).
func (b backend) AppByID(id string) (*laravelcfg.App, bool) {
	a := b.s.appByIDRefreshing(context.Background(), id)
	if a == nil {
		return nil, false
	}
	return a.cfg, true
}

// Publish dispatches one event through the transport.
func (b backend) Publish(ctx context.Context, cfg *laravelcfg.App, ev api.Event) error {
	a, err := b.app(cfg)
	if err != nil {
		return err
	}
	if b.s.router != nil {
		return b.publishRouted(ctx, a, ev)
	}
	p := make([]byte, 0, 64+len(ev.Name)+len(ev.Data))
	p = append(p, `{"event":`...)
	p = phpjson.AppendString(p, ev.Name)
	if ev.Batch && len(ev.Channels) == 1 {
		p = append(p, `,"channel":`...)
		p = phpjson.AppendString(p, ev.Channels[0])
		p = append(p, `,"data":`...)
		p = phpjson.AppendString(p, ev.Data)
	} else {
		p = append(p, `,"channels":[`...)
		for i, c := range ev.Channels {
			if i > 0 {
				p = append(p, ',')
			}
			p = phpjson.AppendString(p, c)
		}
		p = append(p, `],"data":`...)
		p = phpjson.AppendString(p, ev.Data)
	}
	p = append(p, '}')
	if _, err := b.s.transport.Publish(ctx, messageMsg(a, p, ev.SocketID)); err != nil {
		return err
	}
	return nil
}

// publishRouted is Publish in the interest-routed mode: one message per
// channel, on that channel's topic, so only the nodes with subscribers of
// it receive it (routing.go). Each keeps Reverb's shape, with the one
// channel. A user's channel (#server-to-user-{id}) has no topic: its
// sockets are found by sign-in, which no node announces, so such an event
// goes on the control stream to every node.
func (b backend) publishRouted(ctx context.Context, a *appState, ev api.Event) error {
	for _, c := range ev.Channels {
		publish := func(msg []byte) error {
			if _, ok := userChannel(c); ok {
				_, err := b.s.transport.Publish(ctx, msg)
				return err
			}
			_, err := b.s.router.PublishTo(ctx, channelTopic(a.cfg.ID, c), msg)
			return err
		}
		p := make([]byte, 0, 64+len(ev.Name)+len(ev.Data)+len(c))
		p = append(p, `{"event":`...)
		p = phpjson.AppendString(p, ev.Name)
		if ev.Batch {
			p = append(p, `,"channel":`...)
			p = phpjson.AppendString(p, c)
		} else {
			p = append(p, `,"channels":[`...)
			p = phpjson.AppendString(p, c)
			p = append(p, ']')
		}
		p = append(p, `,"data":`...)
		p = phpjson.AppendString(p, ev.Data)
		p = append(p, '}')
		if err := publish(messageMsg(a, p, ev.SocketID)); err != nil {
			return err
		}
	}
	return nil
}

// Connections counts open sockets cluster-wide.
func (b backend) Connections(ctx context.Context, cfg *laravelcfg.App) (int, error) {
	a, err := b.app(cfg)
	if err != nil {
		return 0, err
	}
	ids := map[string]struct{}{}
	for _, r := range b.s.gather(ctx, a, "connections", struct{}{}) {
		var m map[string]json.RawMessage
		if json.Unmarshal(r.raw, &m) == nil {
			for id := range m {
				ids[id] = struct{}{}
			}
		}
	}
	return len(ids), nil
}

// nodeInfo is one node's answer about one channel.
type nodeInfo struct {
	Occupied          bool            `json:"occupied"`
	UserCount         *int            `json:"user_count"`
	SubscriptionCount *int            `json:"subscription_count"`
	Cache             json.RawMessage `json:"cache"`
}

// mergeChannels merges the nodes' name → info answers, in first-seen order.
func (b backend) mergeChannels(a *appState, answers []metricAnswer) ([]string, map[string]*api.ChannelInfo) {
	var order []string
	out := map[string]*api.ChannelInfo{}
	// The users PHP Reverb nodes hold, which the replica does not have.
	phpUsers := map[string]int{}
	for _, r := range answers {
		dec := json.NewDecoder(bytesReader(r.raw))
		fields, err := rawObjectFrom(dec)
		if err != nil {
			continue
		}
		for _, f := range fields {
			var ni nodeInfo
			if json.Unmarshal(f.value, &ni) != nil {
				continue
			}
			ci := out[f.key]
			if ci == nil {
				ci = &api.ChannelInfo{Name: f.key}
				out[f.key] = ci
				order = append(order, f.key)
			}
			ci.Exists = true
			if ni.SubscriptionCount != nil {
				ci.SubscriptionCount += *ni.SubscriptionCount
			} else if ni.Occupied {
				// A PHP node writes no subscription_count for a presence
				// channel: each of its users has a socket at least.
				ci.SubscriptionCount += max(1, derefInt(ni.UserCount))
			}
			if ni.UserCount != nil {
				ci.UserCount += *ni.UserCount
				if r.php {
					phpUsers[f.key] += *ni.UserCount
				}
			}
			if len(ni.Cache) > 0 && string(ni.Cache) != "null" {
				ci.Cache = append([]byte(nil), ni.Cache...)
			}
		}
	}
	// Presence user counts come from the replica: a user present on two
	// nodes is one user. PHP nodes' users are added as Reverb adds up
	// its nodes' counts.
	a.mu.Lock()
	for name, ci := range out {
		if chantype.Of(name).Presence() {
			if pc := a.presence[name]; pc != nil {
				ci.UserCount = pc.userCount() + phpUsers[name]
			}
		}
	}
	a.mu.Unlock()
	return order, out
}

// Channels lists occupied channels cluster-wide. Order: this node's
// creation order first, then channels only other nodes know.
func (b backend) Channels(ctx context.Context, cfg *laravelcfg.App, prefix string) ([]api.ChannelInfo, error) {
	a, err := b.app(cfg)
	if err != nil {
		return nil, err
	}
	o := metricOptions{Info: "occupied,user_count,subscription_count,cache"}
	if prefix != "" {
		o.Filter = &prefix
	}
	order, m := b.mergeChannels(a, b.s.gather(ctx, a, "channels", o))
	out := make([]api.ChannelInfo, 0, len(order))
	for _, name := range order {
		if ci := m[name]; ci.SubscriptionCount > 0 {
			out = append(out, *ci)
		}
	}
	return out, nil
}

// Channel describes the named channels cluster-wide.
func (b backend) Channel(ctx context.Context, cfg *laravelcfg.App, names []string) ([]api.ChannelInfo, error) {
	a, err := b.app(cfg)
	if err != nil {
		return nil, err
	}
	o := metricOptions{Info: "occupied,user_count,subscription_count,cache", Channels: names}
	if names == nil {
		o.Channels = []string{}
	}
	_, m := b.mergeChannels(a, b.s.gather(ctx, a, "channels", o))
	out := make([]api.ChannelInfo, len(names))
	for i, name := range names {
		if ci := m[name]; ci != nil {
			out[i] = *ci
		} else {
			out[i] = api.ChannelInfo{Name: name}
		}
	}
	return out, nil
}

// Users lists the distinct presence users from the cluster-wide replica.
func (b backend) Users(ctx context.Context, cfg *laravelcfg.App, channel string) ([]php.Value, bool, error) {
	a, err := b.app(cfg)
	if err != nil {
		return nil, false, err
	}
	a.mu.Lock()
	var ids []php.Value
	pc := a.presence[channel]
	_, local := a.channels[channel]
	if pc != nil {
		ids = pc.users()
	}
	a.mu.Unlock()
	if b.s.phpPeers() {
		// PHP Reverb nodes share the channel: their members are not in
		// the replica; ask them.
		if more := b.phpChannelUsers(ctx, a, channel, ids); len(more) > 0 {
			return append(ids, more...), true, nil
		}
	}
	if pc != nil || local {
		return ids, true, nil
	}
	// Not here: the channel may exist on another node.
	infos, err := b.Channel(ctx, cfg, []string{channel})
	if err != nil || len(infos) == 0 {
		return nil, false, err
	}
	return nil, infos[0].Exists, nil
}

// phpChannelUsers asks every node for the channel's users and returns
// those PHP Reverb nodes hold that are not in have.
func (b backend) phpChannelUsers(ctx context.Context, a *appState, channel string, have []php.Value) []php.Value {
	seen := map[string]bool{}
	for _, id := range have {
		seen[looseKey(id)] = true
	}
	var out []php.Value
	for _, r := range b.s.gather(ctx, a, "channel_users", metricOptions{Channel: channel}) {
		if !r.php {
			continue
		}
		v, err := phpjson.Decode(r.raw)
		if err != nil || v.Kind() != php.Array {
			continue
		}
		for _, u := range v.ArrayVal().Values {
			id, ok := field(u, "id")
			if !ok || seen[looseKey(id)] {
				continue
			}
			seen[looseKey(id)] = true
			out = append(out, id)
		}
	}
	return out
}

func derefInt(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// TerminateUser closes the user's sockets on every node and returns once
// this node's are gone.
func (b backend) TerminateUser(ctx context.Context, cfg *laravelcfg.App, userID string) error {
	a, err := b.app(cfg)
	if err != nil {
		return err
	}
	ref, done := b.s.await()
	msg := make([]byte, 0, 96)
	msg = append(msg, `{"type":"terminate","application":`...)
	msg = phpjson.AppendString(msg, wireApp(a))
	msg = append(msg, `,"payload":{"user_id":`...)
	msg = phpjson.AppendString(msg, userID)
	msg = append(msg, `},"reverb_go_ref":`...)
	msg = phpjson.AppendString(msg, ref)
	msg = append(msg, '}')
	if _, err := b.s.transport.Publish(ctx, msg); err != nil {
		b.s.forget(ref)
		return err
	}
	select {
	case <-done:
	case <-ctx.Done():
		b.s.forget(ref)
		return ctx.Err()
	}
	// The local sockets are closed; wait until their presence leaves have
	// come back too, so member_removed went out before the response.
	return b.s.barrier(ctx)
}
