<?php

$scheme = env('REVERB_SCHEME', 'http');

return [
    'default' => env('REVERB_SERVER', 'reverb'),
    'servers' => [
        'reverb' => [
            'host' => env('REVERB_SERVER_HOST', '0.0.0.0'),
            'port' => (int) env('REVERB_SERVER_PORT', 8080),
            'hostname' => env('REVERB_HOST'),
            'options' => [
                'tls' => $scheme === 'https' ? [
                    'local_cert' => env('REVERB_TLS_CERT', '/etc/ssl/cert.pem'),
                    'local_pk' => env('REVERB_TLS_KEY'),
                    'verify_peer' => env('APP_ENV') === 'production',
                ] : [],
                'tls_literal' => ['local_cert' => '/path/to/cert.pem'],
                'tls_env' => [
                    'local_cert' => env('REVERB_TLS_CERT_PATH'),
                    'local_pk' => env('REVERB_TLS_KEY_PATH'),
                    'local_ca' => env('REVERB_TLS_CA_PATH'),
                ],
            ],
            'max_request_size' => env('REVERB_MAX_REQUEST_SIZE', 10_000),
            'scaling' => [
                'enabled' => env('REVERB_SCALING_ENABLED', false),
                'channel' => env('REVERB_SCALING_CHANNEL', 'reverb'),
                'server' => [
                    'url' => env('REDIS_URL'),
                    'host' => env('REDIS_HOST', '127.0.0.1'),
                    'port' => env('REDIS_PORT', '6379'),
                    'password' => env('REDIS_PASSWORD'),
                    'database' => env('REDIS_DB', '0'),
                ],
            ],
        ],
    ],
];
