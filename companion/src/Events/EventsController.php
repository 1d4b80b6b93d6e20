<?php

namespace ReverbGo\Laravel\Events;

use Illuminate\Contracts\Events\Dispatcher;
use Illuminate\Http\JsonResponse;
use Illuminate\Http\Request;
use Laravel\Reverb\Contracts\ApplicationProvider;
use Laravel\Reverb\Exceptions\InvalidApplication;
use Throwable;

/**
 * POST /reverb-go/events: Reverb's events from the reverb server, as a
 * batch {"time_ms": …, "events": [ … ]} signed like Pusher webhooks.
 *
 * 401 when the key is unknown to the app's own application provider (the
 * one Reverb's server resolves) or the
 * signature does not match; 400 when the body is not a valid batch (nothing
 * is dispatched then); 200 {"ok":true} once every event was dispatched.
 * A listener that throws is reported (logged) and the others still run:
 * answering an error would make the server send the whole batch again.
 */
class EventsController
{
    public function __invoke(Request $request, Dispatcher $dispatcher, EventFactory $factory): JsonResponse
    {
        $key = (string) $request->header('X-Pusher-Key', '');
        $signature = (string) $request->header('X-Pusher-Signature', '');
        $body = $request->getContent();

        try {
            $app = $key === '' ? null : app(ApplicationProvider::class)->findByKey($key);
        } catch (InvalidApplication) {
            $app = null;
        }

        if ($app === null || ! Signature::valid($body, $app->secret(), $signature)) {
            return new JsonResponse(['ok' => false, 'error' => 'Invalid key or signature.'], 401);
        }

        $batch = json_decode($body, true);

        if (! is_array($batch) || ! is_array($batch['events'] ?? null) || ! array_is_list($batch['events'])) {
            return new JsonResponse(['ok' => false, 'error' => 'The body is not {"time_ms": …, "events": [ … ]}.'], 400);
        }

        foreach ($batch['events'] as $i => $event) {
            if ($error = EventFactory::validate($event, "events.{$i}", $app)) {
                return new JsonResponse(['ok' => false, 'error' => $error], 400);
            }
        }

        foreach ($batch['events'] as $event) {
            try {
                if ($reverbEvent = $factory->make($event, $app)) {
                    $dispatcher->dispatch($reverbEvent);
                }
            } catch (Throwable $e) {
                report($e);
            }
        }

        return new JsonResponse(['ok' => true]);
    }
}
