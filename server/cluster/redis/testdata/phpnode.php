<?php
// A stand-in for a PHP Reverb node on the scaling channel (phpredis), using
// classes of Reverb's shape. Usage: php phpnode.php <port> <channel>
//
// On the first message it sees it publishes, as Reverb does, a "message"
// (event "from-php" on channel "news") and a "metrics" request (key
// PhpKey0001, CONNECTIONS), then prints "published". When a Go "message"
// arrives it publishes a "terminate" of user "5". It prints one JSON
// line for each thing a PHP node must understand from a Go node:
//   {"message": {...}}   a Go "message", its Application unserialize()d
//   {"metrics": {...}}   a Go metrics request, its PendingMetric unserialize()d
//   {"response": ...}    the answer to its own metrics request
//   {"crash": {...}}     a message Reverb's handler would throw on
// and then tries to exit (the test kills it anyway).

namespace {
    use Laravel\Reverb\Application;
    use Laravel\Reverb\Protocols\Pusher\MetricType;
    use Laravel\Reverb\Protocols\Pusher\PendingMetric;

    require __DIR__ . '/../../phpwire/testdata/reverb_classes.php';

    [, $port, $channel] = $argv;
    $app = new Application('123456', 'reverb-key', 'reverb-secret', 60, 30, ['*'], 10000, null, 'all', null,
        ['host' => 'localhost', 'port' => '8080', 'scheme' => 'http', 'useTLS' => false]);
    $pub = new \Redis();
    $pub->connect('127.0.0.1', (int) $port);
    $sub = new \Redis();
    $sub->connect('127.0.0.1', (int) $port);
    $sub->setOption(\Redis::OPT_READ_TIMEOUT, 15);

    $out = function (string $kind, $value): void {
        echo json_encode([$kind => $value]), "\n";
        fflush(STDOUT);
    };
    $sent = false;
    $seen = [];
    try {
        $sub->subscribe([$channel], function ($redis, $chan, $raw) use (&$sent, &$seen, $pub, $channel, $app, $out) {
            if (!$sent) {
                $sent = true;
                $pub->publish($channel, json_encode(['type' => 'message', 'application' => serialize($app),
                    'payload' => ['event' => 'from-php', 'channels' => ['news'], 'data' => '{"n":1}']]));
                $pub->publish($channel, json_encode(['type' => 'metrics',
                    'payload' => serialize(new PendingMetric('PhpKey0001', $app, MetricType::CONNECTIONS, []))]));
                echo "published\n";
                fflush(STDOUT);
            }
            $m = json_decode($raw, true, 512, JSON_THROW_ON_ERROR);
            $type = $m['type'] ?? '';
            // What Reverb's PusherPubSubIncomingMessageHandler does first
            // with every message: a top-level socket_id is looked up among
            // the connections of the unserialized application, which must
            // then be an Application (else PHP throws a TypeError).
            $application = isset($m['application'])
                ? unserialize($m['application'], ['allowed_classes' => [Application::class]]) : false;
            if (isset($m['socket_id']) && !($application instanceof Application)) {
                $out('crash', $m);
            }
            if ($type === 'message' && ($m['payload']['event'] ?? '') !== 'from-php') {
                $a = unserialize($m['application']);
                // Reverb's terminate_connections, as PHP publishes it.
                $pub->publish($channel, json_encode(['type' => 'terminate', 'application' => serialize($app),
                    'payload' => ['user_id' => '5']]));
                $out('message', ['app' => $a->view(), 'payload' => $m['payload'], 'socket_id' => $m['socket_id'] ?? null]);
                $seen['message'] = true;
            } elseif ($type === 'metrics') {
                $pm = unserialize($m['payload']);
                if ($pm->view()['key'] !== 'PhpKey0001') {
                    $out('metrics', $pm->view());
                    $seen['metrics'] = true;
                }
            } elseif ($type === 'PhpKey0001') {
                $out('response', $m['payload']);
                $seen['response'] = true;
            }
            if (count($seen) === 3) {
                exit(0); // an exception would not leave phpredis' subscribe loop
            }
        });
    } catch (\Throwable $e) {
        fwrite(STDERR, get_class($e) . ': ' . $e->getMessage() . "\n");
        exit(1);
    }
}
