<?php

namespace ReverbGo\Laravel\Events;

/**
 * Pusher's webhook signature: the lowercase hex HMAC-SHA256 of the raw body
 * with the app secret, sent in X-Pusher-Signature beside X-Pusher-Key (what
 * pusher/pusher-php-server's verifySignature() checks).
 */
final class Signature
{
    public static function sign(string $body, string $secret): string
    {
        return hash_hmac('sha256', $body, $secret);
    }

    /**
     * Constant-time check of a signature.
     */
    public static function valid(string $body, string $secret, string $signature): bool
    {
        return $signature !== '' && hash_equals(static::sign($body, $secret), $signature);
    }
}
