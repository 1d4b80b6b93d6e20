<?php

use Laravel\Pulse\Http\Middleware\Authorize;
use Laravel\Pulse\Recorders;

// Reconstructed Pulse-style config: class-name keys through a namespace
// alias, explode(), gethostname(), regex strings, numeric separators.

return [
    'domain' => env('PULSE_DOMAIN'),
    'path' => env('PULSE_PATH', 'pulse'),
    'enabled' => env('PULSE_ENABLED', true),
    'storage' => [
        'driver' => env('PULSE_STORAGE_DRIVER', 'database'),
        'trim' => [
            'keep' => env('PULSE_STORAGE_KEEP', '7 days'),
        ],
        'database' => [
            'connection' => env('PULSE_DB_CONNECTION'),
            'chunk' => 1000,
        ],
    ],
    'ingest' => [
        'driver' => env('PULSE_INGEST_DRIVER', 'storage'),
        'buffer' => env('PULSE_INGEST_BUFFER', 5_000),
        'trim' => [
            'lottery' => [1, 1_000],
            'keep' => env('PULSE_INGEST_KEEP', '7 days'),
        ],
        'redis' => [
            'connection' => env('PULSE_REDIS_CONNECTION'),
            'chunk' => 1000,
        ],
    ],
    'cache' => env('PULSE_CACHE_DRIVER'),
    'middleware' => [
        'web',
        Authorize::class,
    ],
    'recorders' => [
        \Laravel\Reverb\Pulse\Recorders\ReverbConnections::class => [
            'sample_rate' => 1,
        ],
        \Laravel\Reverb\Pulse\Recorders\ReverbMessages::class => [
            'sample_rate' => 1,
        ],
        Recorders\CacheInteractions::class => [
            'enabled' => env('PULSE_CACHE_INTERACTIONS_ENABLED', true),
            'sample_rate' => env('PULSE_CACHE_INTERACTIONS_SAMPLE_RATE', 1),
            'ignore' => [
                '/(["`])laravel:reverb:restart\1/',
                '/^illuminate:/',
            ],
            'groups' => [
                '/^job-exceptions:.*/' => 'job-exceptions:*',
            ],
        ],
        Recorders\Servers::class => [
            'server_name' => env('PULSE_SERVER_NAME', gethostname()),
            'directories' => explode(':', env('PULSE_SERVER_DIRECTORIES', '/')),
        ],
        Recorders\SlowQueries::class => [
            'enabled' => env('PULSE_SLOW_QUERIES_ENABLED', true),
            'threshold' => env('PULSE_SLOW_QUERIES_THRESHOLD', 1000),
            'location' => env('PULSE_SLOW_QUERIES_LOCATION', true),
            'max_query_length' => env('PULSE_SLOW_QUERIES_MAX_QUERY_LENGTH'),
            'ignore' => [
                '/(["`])pulse_[\w]+?\1/', // Pulse tables...
                '/(["`])telescope_[\w]+?\1/',
            ],
        ],
    ],
];
