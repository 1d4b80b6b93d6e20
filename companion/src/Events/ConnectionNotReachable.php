<?php

namespace ReverbGo\Laravel\Events;

use LogicException;

/**
 * A listener of Reverb's events tried to write to the client's socket. The
 * events reach the app after the fact, through reverb-go's events route, in
 * another process than the server: the socket is not here.
 */
class ConnectionNotReachable extends LogicException
{
    public static function for(string $method, BridgedConnection $connection): self
    {
        return new self(sprintf(
            'Cannot %s() connection %s of app %s: Reverb\'s events reach this app through reverb-go\'s events route, after the fact and outside the server, so the socket cannot be written from here. Broadcast an event to a channel the client is subscribed to instead (e.g. a private channel of the user: broadcast(new YourEvent(...))), or use Pusher\'s HTTP API (terminate_connections) to disconnect a user.',
            $method,
            $connection->id(),
            $connection->app()->id(),
        ));
    }
}
