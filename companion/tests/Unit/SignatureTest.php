<?php

namespace ReverbGo\Laravel\Tests\Unit;

use PHPUnit\Framework\TestCase;
use Pusher\Pusher;
use Pusher\PusherException;
use ReverbGo\Laravel\Events\Signature;

/**
 * The events bridge signs like Pusher webhooks: the official PHP SDK's own
 * validator (pusher/pusher-php-server, as installed with Reverb) agrees.
 */
class SignatureTest extends TestCase
{
    public function test_the_pusher_sdk_accepts_our_signature_and_rejects_others(): void
    {
        $pusher = new Pusher('app-key', 'app-secret', '1001');
        $body = '{"time_ms":1700000000000,"events":[{"name":"channel_created","app_id":"1001","channel":"private-orders"}]}';
        $signature = Signature::sign($body, 'app-secret');

        $this->assertSame(hash_hmac('sha256', $body, 'app-secret'), $signature);
        $pusher->verifySignature(['X-Pusher-Key' => 'app-key', 'X-Pusher-Signature' => $signature], $body);

        // The SDK's webhook() decodes it after the same check.
        $webhook = $pusher->webhook(['X-Pusher-Key' => 'app-key', 'X-Pusher-Signature' => $signature], $body);
        $this->assertSame(1700000000000, $webhook->get_time_ms());
        $this->assertSame('private-orders', $webhook->get_events()[0]->channel);
        $this->assertTrue(Signature::valid($body, 'app-secret', $signature));

        foreach ([
            [$body.' ', $signature],
            [$body, Signature::sign($body, 'other-secret')],
            [$body, strtoupper($signature)],
            [$body, ''],
        ] as [$b, $s]) {
            $this->assertFalse(Signature::valid($b, 'app-secret', $s));

            try {
                $pusher->verifySignature(['X-Pusher-Key' => 'app-key', 'X-Pusher-Signature' => $s], $b);
                $this->fail('the SDK accepted a signature we refuse');
            } catch (PusherException) {
                $this->addToAssertionCount(1);
            }
        }
    }
}
