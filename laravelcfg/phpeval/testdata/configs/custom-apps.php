<?php

// Several apps (docs "Additional Applications"), literal credentials, and
// closures assigned to variables.

$app = static function (string $suffix, array $extra = []) {
    return array_merge([
        'key' => env('REVERB_APP_KEY'.$suffix),
        'secret' => env('REVERB_APP_SECRET'.$suffix),
        'app_id' => env('REVERB_APP_ID'.$suffix),
        'allowed_origins' => ['*'],
        'ping_interval' => 60,
        'max_message_size' => 10000,
    ], $extra);
};

$timeout = env('REVERB_APP_ACTIVITY_TIMEOUT', 30);
$withTimeout = function (array $a) use ($timeout) {
    $a['activity_timeout'] = $timeout;
    return $a;
};

return [
    'apps' => [
        'provider' => 'config',
        'apps' => [
            $app(''),
            $withTimeout($app('_2', ['ping_interval' => 30])),
            [
                'key' => 'literal-key',
                'secret' => 'literal-secret',
                'app_id' => 654321,
                'allowed_origins' => ['example.com', '*.example.com'],
                'ping_interval' => '60',
                'activity_timeout' => "120",
                'max_message_size' => 0x2710,
                'max_connections' => 1_000,
                'accept_client_events_from' => 'none',
                'capacity' => null,
            ],
        ],
    ],
];
