<?php

namespace ReverbGo\Laravel\Tests\Feature;

use Illuminate\Contracts\Http\Kernel;
use Illuminate\Http\Request;
use Illuminate\Support\Facades\Event;
use Laravel\Reverb\ApplicationManager;
use Laravel\Reverb\Events\ChannelCreated;
use Laravel\Reverb\Events\ChannelRemoved;
use Laravel\Reverb\Events\ConnectionPruned;
use Laravel\Reverb\Events\MessageReceived;
use Laravel\Reverb\Events\MessageSent;
use Laravel\Reverb\Protocols\Pusher\Channels\CacheChannel;
use Laravel\Reverb\Protocols\Pusher\Channels\Channel;
use Laravel\Reverb\Protocols\Pusher\Channels\PresenceCacheChannel;
use Laravel\Reverb\Protocols\Pusher\Channels\PresenceChannel;
use Laravel\Reverb\Protocols\Pusher\Channels\PrivateCacheChannel;
use Laravel\Reverb\Protocols\Pusher\Channels\PrivateChannel;
use ReverbGo\Laravel\Events\BridgedConnection;
use ReverbGo\Laravel\Events\ConnectionNotReachable;
use ReverbGo\Laravel\Tests\TestCase;
use RuntimeException;

/**
 * POST /reverb-go/events with batches signed exactly as the wire format
 * says: X-Pusher-Key, and X-Pusher-Signature = hex HMAC-SHA256 of the raw
 * body with the app secret.
 */
class EventsRouteTest extends TestCase
{
    // The test app's .env (what reverb:install left).
    private const ID = '473820';

    private const KEY = 'w1mhnp0sxbeqkdfnrh2l';

    private const SECRET = 'yrdv5qzxhjpc1y0wqn7k';

    /** @var array<int, object> */
    private array $seen = [];

    protected function setUp(): void
    {
        parent::setUp();
        foreach ([MessageReceived::class, MessageSent::class, ChannelCreated::class, ChannelRemoved::class, ConnectionPruned::class] as $class) {
            Event::listen($class, function (object $e) {
                $this->seen[] = $e;
            });
        }
    }

    private function post(string $body, ?string $key = self::KEY, ?string $signature = null, string $path = '/reverb-go/events'): array
    {
        $server = ['CONTENT_TYPE' => 'application/json'];
        if ($key !== null) {
            $server['HTTP_X_PUSHER_KEY'] = $key;
        }
        $server['HTTP_X_PUSHER_SIGNATURE'] = $signature ?? hash_hmac('sha256', $body, self::SECRET);
        $response = $this->app->make(Kernel::class)->handle(Request::create($path, 'POST', [], [], [], $server, $body));

        return [$response->getStatusCode(), json_decode($response->getContent(), true)];
    }

    public function test_a_signed_batch_dispatches_reverbs_own_events(): void
    {
        $body = '{"time_ms":1700000000123,"events":['
            .'{"name":"message_received","app_id":"473820","socket_id":"123.456","origin":"https://app.test","channel":"private-chat","message":"{\"event\":\"client-typing\",\"channel\":\"private-chat\",\"data\":{\"who\":\"ana\"}}"},'
            .'{"name":"message_sent","app_id":"473820","socket_id":"789.1","origin":null,"message":"{\"event\":\"pusher:pong\",\"data\":\"{}\"}"},'
            .'{"name":"channel_created","app_id":"473820","channel":"presence-room"},'
            .'{"name":"channel_removed","app_id":"473820","channel":"private-cache-x"},'
            .'{"name":"connection_pruned","app_id":"473820","socket_id":"5.6","origin":"https://app.test","data":{"user_id":7}}'
            .']}';

        [$status, $json] = $this->post($body);

        $this->assertSame(200, $status);
        $this->assertSame(['ok' => true], $json);
        $this->assertCount(5, $this->seen);

        [$received, $sent, $created, $removed, $pruned] = $this->seen;

        $this->assertInstanceOf(MessageReceived::class, $received);
        $this->assertInstanceOf(BridgedConnection::class, $received->connection);
        $this->assertSame('123.456', $received->connection->id());
        $this->assertSame('123.456', $received->connection->identifier());
        $this->assertSame(self::ID, $received->connection->app()->id());
        $this->assertSame(self::KEY, $received->connection->app()->key());
        $this->assertSame('https://app.test', $received->connection->origin());
        $this->assertSame('private-chat', $received->connection->channelName());
        $this->assertSame('{"event":"client-typing","channel":"private-chat","data":{"who":"ana"}}', $received->message);

        $this->assertInstanceOf(MessageSent::class, $sent);
        $this->assertNull($sent->connection->origin());
        $this->assertSame('{"event":"pusher:pong","data":"{}"}', $sent->message);

        $this->assertInstanceOf(ChannelCreated::class, $created);
        $this->assertInstanceOf(PresenceChannel::class, $created->channel);
        $this->assertSame('presence-room', $created->channel->name());
        $this->assertSame([], $created->channel->connections());

        $this->assertInstanceOf(ChannelRemoved::class, $removed);
        $this->assertInstanceOf(PrivateCacheChannel::class, $removed->channel);

        $this->assertInstanceOf(ConnectionPruned::class, $pruned);
        $this->assertSame('5.6', $pruned->connection->id());
        $this->assertSame(7, $pruned->connection->data('user_id'));
        $this->assertSame(self::ID, $pruned->connection->app()->id());
    }

    public function test_channel_classes_follow_reverbs_prefix_rules(): void
    {
        $classes = [
            'news' => Channel::class,
            'private-orders' => PrivateChannel::class,
            'presence-room' => PresenceChannel::class,
            'cache-prices' => CacheChannel::class,
            'private-cache-x' => PrivateCacheChannel::class,
            'presence-cache-y' => PresenceCacheChannel::class,
            'privatefoo' => PrivateChannel::class,
        ];
        $events = [];
        foreach (array_keys($classes) as $name) {
            $events[] = ['name' => 'channel_created', 'app_id' => self::ID, 'channel' => $name];
        }
        [$status] = $this->post(json_encode(['time_ms' => 1, 'events' => $events]));
        $this->assertSame(200, $status);
        foreach (array_values($classes) as $i => $class) {
            $this->assertSame($class, get_class($this->seen[$i]->channel));
        }
    }

    public function test_bad_keys_and_signatures_get_401_and_dispatch_nothing(): void
    {
        $body = '{"time_ms":1,"events":[{"name":"channel_created","app_id":"473820","channel":"x"}]}';

        foreach ([
            [self::KEY, hash_hmac('sha256', $body, 'wrong-secret')],
            [self::KEY, hash_hmac('sha256', $body.' ', self::SECRET)],
            [self::KEY, strtoupper(hash_hmac('sha256', $body, self::SECRET))],
            [self::KEY, ''],
            ['unknown-key', hash_hmac('sha256', $body, self::SECRET)],
            [null, hash_hmac('sha256', $body, self::SECRET)],
        ] as [$key, $signature]) {
            [$status, $json] = $this->post($body, $key, $signature);
            $this->assertSame(401, $status);
            $this->assertFalse($json['ok']);
        }
        $this->assertSame([], $this->seen);
    }

    public function test_malformed_batches_get_400_naming_the_field_and_dispatch_nothing(): void
    {
        $ok = '{"name":"channel_created","app_id":"473820","channel":"x"}';
        foreach ([
            'not json' => 'The body is not',
            '{"events":{"a":1}}' => 'The body is not',
            '[]' => 'The body is not',
            '{"events":['.$ok.',{"name":"message_received","app_id":"473820","message":"m"}]}' => 'events.1.socket_id: missing',
            '{"events":['.$ok.',{"name":"message_sent","app_id":"473820","socket_id":"1.2"}]}' => 'events.1.message: missing',
            '{"events":[{"name":"channel_removed","app_id":"473820"}]}' => 'events.0.channel: missing',
            '{"events":[{"name":"channel_removed","app_id":"999","channel":"x"}]}' => 'events.0.app_id: "999" is not the app of the X-Pusher-Key (473820)',
            '{"events":[{"app_id":"473820"}]}' => 'events.0.name: missing',
            '{"events":[5]}' => 'events.0: not an object',
            '{"events":[{"name":"connection_pruned","app_id":"473820","socket_id":"1.2","data":"x"}]}' => 'events.0.data: not an object',
        ] as $body => $error) {
            [$status, $json] = $this->post($body);
            $this->assertSame(400, $status, $body);
            $this->assertStringContainsString($error, $json['error'], $body);
        }
        $this->assertSame([], $this->seen);
    }

    public function test_unknown_event_names_are_skipped(): void
    {
        [$status] = $this->post('{"time_ms":1,"events":[{"name":"member_added","app_id":"473820"},{"name":"channel_created","app_id":"473820","channel":"x"}]}');
        $this->assertSame(200, $status);
        $this->assertCount(1, $this->seen);
    }

    public function test_a_failing_listener_is_reported_and_the_others_still_run(): void
    {
        Event::listen(MessageReceived::class, function () {
            throw new RuntimeException('listener broke');
        });
        $body = json_encode(['time_ms' => 1, 'events' => [
            ['name' => 'message_received', 'app_id' => self::ID, 'socket_id' => '1.1', 'origin' => null, 'message' => 'a'],
            ['name' => 'channel_created', 'app_id' => self::ID, 'channel' => 'after'],
        ]]);
        $log = storage_path('logs/laravel.log');
        $before = is_file($log) ? filesize($log) : 0;

        [$status, $json] = $this->post($body);

        $this->assertSame(200, $status);
        $this->assertSame(['ok' => true], $json);
        $this->assertCount(2, $this->seen);
        $this->assertStringContainsString('listener broke', (string) file_get_contents($log, false, null, $before));
    }

    public function test_listeners_cannot_write_to_the_socket_and_are_told_why(): void
    {
        $this->post(json_encode(['time_ms' => 1, 'events' => [
            ['name' => 'message_received', 'app_id' => self::ID, 'socket_id' => '1.2', 'origin' => null, 'message' => 'm'],
        ]]));
        $connection = $this->seen[0]->connection;

        foreach (['send' => fn () => $connection->send('x'), 'control' => fn () => $connection->control(), 'terminate' => fn () => $connection->terminate(), 'disconnect' => fn () => $connection->disconnect()] as $method => $call) {
            try {
                $call();
                $this->fail("{$method}() did not throw");
            } catch (ConnectionNotReachable $e) {
                $this->assertStringContainsString('connection 1.2 of app 473820', $e->getMessage());
                $this->assertStringContainsString('Broadcast an event to a channel the client is subscribed to', $e->getMessage());
            }
        }
    }

    public function test_apps_of_a_custom_provider_are_found_by_key(): void
    {
        $tenants = storage_path('app/tenants.json');
        file_put_contents($tenants, json_encode([['app_id' => '9001', 'key' => 'tenant-key', 'secret' => 'tenant-secret']]));
        $this->cleanups[] = fn () => @unlink($tenants);
        $this->app['config']->set('reverb.apps.provider', 'tenants');
        $this->app->forgetInstance(ApplicationManager::class);
        $this->app->make(ApplicationManager::class)->extend('tenants', fn () => new \App\ReverbGoFixtures\TenantsProvider($tenants));

        $body = '{"time_ms":1,"events":[{"name":"message_received","app_id":"9001","socket_id":"1.2","origin":null,"message":"hi"}]}';
        [$status] = $this->post($body, 'tenant-key', hash_hmac('sha256', $body, 'tenant-secret'));
        $this->assertSame(200, $status);
        $this->assertSame('9001', $this->seen[0]->connection->app()->id());

        [$status] = $this->post($body, self::KEY); // the config app is not in the tenants provider
        $this->assertSame(401, $status);
    }

    public function test_the_route_is_outside_the_web_group_and_its_path_is_a_setting(): void
    {
        $route = $this->app['router']->getRoutes()->getByName('reverb-go.events');
        $this->assertSame('reverb-go/events', $route->uri());
        $this->assertSame(['POST'], $route->methods());
        $this->assertNotContains('web', $route->gatherMiddleware());
    }
}
