<?php

namespace ReverbGo\Laravel\Events;

use Illuminate\Contracts\Container\Container;
use InvalidArgumentException;
use Laravel\Reverb\Application;
use Laravel\Reverb\Events\ChannelCreated;
use Laravel\Reverb\Events\ChannelRemoved;
use Laravel\Reverb\Events\ConnectionPruned;
use Laravel\Reverb\Events\MessageReceived;
use Laravel\Reverb\Events\MessageSent;
use Laravel\Reverb\Protocols\Pusher\Channels\ChannelBroker;
use Laravel\Reverb\Protocols\Pusher\Channels\ChannelConnection;
use Laravel\Reverb\Protocols\Pusher\Contracts\ChannelConnectionManager;
use Laravel\Reverb\Protocols\Pusher\Managers\ArrayChannelConnectionManager;

/**
 * Rebuilds Reverb's own event objects from the events the reverb server
 * posts:
 *
 *     {"name": "message_received", "app_id": "…", "socket_id": "…",
 *      "origin": "…"|null, "channel": "…", "message": "…"}
 *
 * message_received / message_sent → MessageReceived / MessageSent with a
 * BridgedConnection; channel_created / channel_removed → ChannelCreated /
 * ChannelRemoved with the channel class Reverb picks by name (its
 * connections() are empty, as they are in Reverb when those events fire);
 * connection_pruned → ConnectionPruned with a ChannelConnection (its data()
 * is the optional "data" object, e.g. a presence member's user_id).
 */
class EventFactory
{
    /**
     * The event names this version understands.
     */
    public const NAMES = ['message_received', 'message_sent', 'channel_created', 'channel_removed', 'connection_pruned'];

    public function __construct(protected Container $container)
    {
        //
    }

    /**
     * Check one event of a batch; returns an error naming the field, or null.
     *
     * @param  mixed  $event
     */
    public static function validate($event, string $path, Application $app): ?string
    {
        if (! is_array($event) || array_is_list($event) && $event !== []) {
            return "{$path}: not an object";
        }

        if (! is_string($event['name'] ?? null)) {
            return "{$path}.name: missing";
        }

        if (! in_array($event['name'], self::NAMES, true)) {
            return null; // a newer server's event: skipped
        }

        if (! is_string($event['app_id'] ?? null)) {
            return "{$path}.app_id: missing";
        }

        if ($event['app_id'] !== $app->id()) {
            return "{$path}.app_id: \"{$event['app_id']}\" is not the app of the X-Pusher-Key ({$app->id()})";
        }

        $channelEvent = str_starts_with($event['name'], 'channel_');

        if ($channelEvent && ! is_string($event['channel'] ?? null)) {
            return "{$path}.channel: missing";
        }

        if (! $channelEvent && ! is_string($event['socket_id'] ?? null)) {
            return "{$path}.socket_id: missing";
        }

        if (! $channelEvent && isset($event['origin']) && ! is_string($event['origin'])) {
            return "{$path}.origin: not a string or null";
        }

        if (isset($event['channel']) && ! is_string($event['channel'])) {
            return "{$path}.channel: not a string";
        }

        if (str_starts_with($event['name'], 'message_') && ! is_string($event['message'] ?? null)) {
            return "{$path}.message: missing";
        }

        if (isset($event['data']) && ! is_array($event['data'])) {
            return "{$path}.data: not an object";
        }

        return null;
    }

    /**
     * Build the Reverb event for a validated event; null for names this
     * version does not know.
     *
     * @param  array<string, mixed>  $event
     */
    public function make(array $event, Application $app): ?object
    {
        return match ($event['name']) {
            'message_received' => new MessageReceived($this->connection($event, $app), $event['message']),
            'message_sent' => new MessageSent($this->connection($event, $app), $event['message']),
            'channel_created' => new ChannelCreated($this->channel($event['channel'])),
            'channel_removed' => new ChannelRemoved($this->channel($event['channel'])),
            'connection_pruned' => new ConnectionPruned(new ChannelConnection($this->connection($event, $app), $event['data'] ?? [])),
            default => null,
        };
    }

    /**
     * @param  array<string, mixed>  $event
     */
    protected function connection(array $event, Application $app): BridgedConnection
    {
        return new BridgedConnection($app, $event['socket_id'], $event['origin'] ?? null, $event['channel'] ?? null);
    }

    protected function channel(string $name): object
    {
        if ($name === '') {
            throw new InvalidArgumentException('empty channel name');
        }

        // Reverb binds this only inside its server; a channel's constructor
        // asks for it. Its connections are the server's business.
        if (! $this->container->bound(ChannelConnectionManager::class)) {
            $this->container->bind(ChannelConnectionManager::class, fn () => new ArrayChannelConnectionManager);
        }

        return ChannelBroker::create($name);
    }
}
