<?php

namespace App\ReverbGoFixtures;

use Illuminate\Support\Facades\Artisan;
use Illuminate\Support\Facades\Broadcast;
use Illuminate\Support\Facades\Event;
use Illuminate\Support\ServiceProvider;
use Laravel\Reverb\ApplicationManager;
use Laravel\Reverb\Contracts\ApplicationProvider;
use Laravel\Reverb\Events\ChannelCreated;
use Laravel\Reverb\Events\ChannelRemoved;
use Laravel\Reverb\Events\ConnectionPruned;
use Laravel\Reverb\Events\MessageReceived;
use Laravel\Reverb\Events\MessageSent;

class FixtureServiceProvider extends ServiceProvider
{
    public function register(): void
    {
        // PHPUnit's subprocesses pick the provider without a config file.
        if ($provider = env('FIXTURE_REVERB_APPS_PROVIDER')) {
            config(['reverb.apps.provider' => $provider]);
        }
    }

    public function boot(): void
    {
        // A custom provider: config('reverb.apps.provider') = 'tenants'.
        $this->app->make(ApplicationManager::class)->extend('tenants', fn () => new TenantsProvider(storage_path('app/tenants.json')));

        // A provider bound to Reverb's contract itself, the provider setting
        // left at "config": what Reverb's server resolves. Bound after the
        // ApplicationManager was made: its deferred service provider binds
        // the contract when it loads, replacing an earlier binding.
        if (env('FIXTURE_BIND_APPLICATION_PROVIDER')) {
            $this->app->instance(ApplicationProvider::class, new TenantsProvider(storage_path('app/tenants.json')));
        }

        // Listeners of Reverb's events, as an app would have them.
        $record = function (object $event) {
            $line = ['event' => class_basename($event)];

            if ($event instanceof MessageReceived || $event instanceof MessageSent) {
                $line += [
                    'socket_id' => $event->connection->id(),
                    'app_id' => $event->connection->app()->id(),
                    'origin' => $event->connection->origin(),
                    'message' => $event->message,
                ];
            } elseif ($event instanceof ChannelCreated || $event instanceof ChannelRemoved) {
                $line += ['channel' => $event->channel->name(), 'class' => class_basename($event->channel)];
            } elseif ($event instanceof ConnectionPruned) {
                $line += [
                    'socket_id' => $event->connection->id(),
                    'app_id' => $event->connection->app()->id(),
                    'data' => $event->connection->data(),
                ];
            }

            file_put_contents(storage_path('logs/reverb-events.jsonl'), json_encode($line)."\n", FILE_APPEND | LOCK_EX);
        };

        foreach ([MessageReceived::class, MessageSent::class, ChannelCreated::class, ChannelRemoved::class, ConnectionPruned::class] as $class) {
            Event::listen($class, $record);
        }

        // Broadcast through Laravel's own reverb broadcaster (Pusher's SDK).
        Artisan::command('fixture:broadcast {channel} {event} {data} {--app-id=} {--key=} {--secret=}', function (string $channel, string $event, string $data) {
            $connection = config('broadcasting.connections.reverb');

            foreach (['app_id' => 'app-id', 'key' => 'key', 'secret' => 'secret'] as $setting => $option) {
                if ($value = $this->option($option)) {
                    $connection[$setting] = $value;
                }
            }

            config(['broadcasting.connections.fixture' => $connection]);

            Broadcast::connection('fixture')->broadcast([$channel], $event, json_decode($data, true));

            $this->info('broadcast');
        });
    }
}
