<?php
// With the classes of Reverb's shape (reverb_classes.php), one of two modes:
//   php interop.php check   < cases.json  — for each case, build the object
//       in PHP from the case's arguments, serialize() it, and unserialize()
//       the string Go wrote; print both results as JSON.
//   php interop.php emit                  — print strings PHP serialize()d,
//       with a JSON view of what they hold, for the Go decoder.

namespace {
    use Laravel\Reverb\Application;
    use Laravel\Reverb\Protocols\Pusher\MetricType;
    use Laravel\Reverb\Protocols\Pusher\PendingMetric;

    require __DIR__ . '/reverb_classes.php';

    function app_from(array $a): Application
    {
        return new Application(
            $a['id'], $a['key'], $a['secret'], $a['pingInterval'], $a['activityTimeout'],
            $a['allowedOrigins'], $a['maxMessageSize'], $a['maxConnections'],
            $a['acceptClientEventsFrom'], $a['rateLimiting'], $a['options'],
        );
    }

    function build(array $case): object
    {
        if ($case['kind'] === 'application') {
            return app_from($case['app']);
        }
        return new PendingMetric($case['key'], app_from($case['app']), MetricType::from($case['type']), $case['options']);
    }

    $mode = $argv[1] ?? '';
    if ($mode === 'check') {
        $cases = json_decode(stream_get_contents(STDIN), true, 512, JSON_THROW_ON_ERROR);
        $out = [];
        foreach ($cases as $case) {
            $ours = base64_decode($case['go']);
            $theirs = serialize(build($case));
            $r = ['php' => base64_encode($theirs), 'error' => null, 'view' => null];
            try {
                $obj = unserialize($ours);
                if (!is_object($obj)) {
                    $r['error'] = 'unserialize returned ' . gettype($obj);
                } else {
                    $r['view'] = $obj->view();
                    $r['reserialized_equal'] = serialize($obj) === $ours;
                }
            } catch (\Throwable $e) {
                $r['error'] = get_class($e) . ': ' . $e->getMessage();
            }
            $out[] = $r;
        }
        echo json_encode($out, JSON_THROW_ON_ERROR | JSON_PRESERVE_ZERO_FRACTION);
        exit(0);
    }
    if ($mode === 'emit') {
        $app = new Application('987654', 'k€y', "se\"cr\0et", 10, 45, ['laravel.com', '*.example.org', 7],
            1000000, 3, 'members', ['enabled' => true, 'max_attempts' => '10', 'decay_seconds' => 1.5, 'terminate_on_limit' => false],
            ['host' => 'ws.example.com', 'port' => 443, 'scheme' => 'https', 'useTLS' => true, 'nested' => [1 => 'a', 'x' => null, -5 => -0.25]]);
        $values = [
            'application' => $app,
            'metric_channels' => new PendingMetric('AbCdEfGhIj', $app, MetricType::CHANNELS, ['filter' => null, 'info' => 'user_count']),
            'metric_channel' => new PendingMetric('0123456789', $app, MetricType::CHANNEL, ['channel' => 'presence-room', 'info' => 'occupied,user_count']),
            'metric_users' => new PendingMetric('zzzzzzzzzz', $app, MetricType::CHANNEL_USERS, ['channel' => 'presence-room']),
            'metric_connections' => new PendingMetric('qwertyuiop', $app, MetricType::CONNECTIONS, []),
            'metric_list' => new PendingMetric('listlistli', $app, MetricType::CHANNELS, ['info' => 'subscription_count', 'channels' => ['a', 'b']]),
            'scalars' => [null, true, false, 0, -7, PHP_INT_MAX, PHP_INT_MIN, 0.1, 1e25, 1.0e-5, -0.0, 100.0, INF, -INF, '', "\u{1F600}", '12', '012'],
        ];
        $out = [];
        foreach ($values as $name => $v) {
            $view = is_object($v) ? $v->view() : $v;
            $out[$name] = ['serialized' => base64_encode(serialize($v)), 'view' => json_encode($view, JSON_PARTIAL_OUTPUT_ON_ERROR)];
        }
        echo json_encode($out, JSON_THROW_ON_ERROR);
        exit(0);
    }
    fwrite(STDERR, "usage: interop.php check|emit\n");
    exit(2);
}
