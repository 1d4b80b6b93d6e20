<?php

namespace ReverbGo\Laravel\Events;

use Laravel\Reverb\Application;
use Laravel\Reverb\Contracts\Connection;
use Ratchet\RFC6455\Messaging\Frame;

/**
 * The connection of an event the reverb server sent over: id(), app() and
 * origin() are what the server saw. There is no socket in this process, so
 * send(), control() and terminate() throw ConnectionNotReachable (which
 * says what to do instead).
 */
class BridgedConnection extends Connection
{
    /**
     * Reverb's constructor takes the socket, which does not exist here.
     */
    public function __construct(Application $application, protected string $socketId, ?string $origin, protected ?string $channel = null)
    {
        $this->application = $application;
        $this->origin = $origin;
        $this->lastSeenAt = time();
    }

    /**
     * The socket id ("1234.5678").
     */
    public function identifier(): string
    {
        return $this->socketId;
    }

    /**
     * The socket id ("1234.5678").
     */
    public function id(): string
    {
        return $this->socketId;
    }

    /**
     * The channel the message was on, when the server knew it.
     */
    public function channelName(): ?string
    {
        return $this->channel;
    }

    public function send(string $message): void
    {
        throw ConnectionNotReachable::for('send', $this);
    }

    public function control(string $type = Frame::OP_PING): void
    {
        throw ConnectionNotReachable::for('control', $this);
    }

    public function terminate(): void
    {
        throw ConnectionNotReachable::for('terminate', $this);
    }
}
