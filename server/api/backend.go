// Package api serves Reverb's HTTP API ({path}/apps/{id}/..., {path}/up):
// routing, signature checks, validation and Reverb's response bodies. The
// channel state it reports on lives behind Backend.
package api

import (
	"context"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/php"
)

// Backend is the cluster-wide channel state as the HTTP API sees it. The
// server package implements it; every method already covers all workers and
// nodes (metrics gathering), so the API never aggregates by itself.
type Backend interface {
	// AppByID finds an app by app_id (exact string comparison).
	AppByID(id string) (*laravelcfg.App, bool)
	// Publish dispatches one event (an /events request, or one batch item)
	// to every node. It returns once the event is accepted for delivery.
	Publish(ctx context.Context, app *laravelcfg.App, ev Event) error
	// Connections counts the distinct open sockets of app, cluster-wide.
	Connections(ctx context.Context, app *laravelcfg.App) (int, error)
	// Channels lists the occupied channels of app whose names start with
	// prefix ("" = all), in creation order.
	Channels(ctx context.Context, app *laravelcfg.App, prefix string) ([]ChannelInfo, error)
	// Channel describes the named channels (same order as names).
	Channel(ctx context.Context, app *laravelcfg.App, names []string) ([]ChannelInfo, error)
	// Users lists the distinct presence users of channel, cluster-wide, in
	// membership order, ids keeping their JSON types. exists is false when
	// the channel has no subscribers on this node (Reverb answers 404 then).
	Users(ctx context.Context, app *laravelcfg.App, channel string) (ids []php.Value, exists bool, err error)
	// TerminateUser closes every socket of app whose membership carries
	// userID, cluster-wide, and returns after the local ones are gone.
	TerminateUser(ctx context.Context, app *laravelcfg.App, userID string) error
}

// Event is one event to deliver.
type Event struct {
	Name     string
	Data     string
	Channels []string
	// SocketID, when set, is excluded from delivery on every channel.
	SocketID string
	// Batch selects the batch_events frame key order (event, channel, data)
	// instead of the events order (event, data, channel).
	Batch bool
}

// ChannelInfo is what the cluster knows about one channel. The API picks the
// fields the request's info parameter asked for.
type ChannelInfo struct {
	Name string
	// Exists is true when the channel object exists (it may be empty: left
	// over from a failed subscription).
	Exists            bool
	SubscriptionCount int // sockets
	UserCount         int // distinct presence users
	// Cache is the PHP-JSON of the cached message of a cache channel, nil
	// when there is none.
	Cache []byte
}
