<?php

declare(strict_types=1);

use Illuminate\Support\Str as S;

/**
 * Env-driven origin lists in the shapes seen in public apps.
 */
$origins = explode(',', env('REVERB_ALLOWED_ORIGINS', '*'));
$trimmed = array_filter(array_map('trim', explode(',', (string) env('REVERB_ALLOWED_ORIGINS', env('APP_URL')))));
$normalised = array_values(array_unique(array_filter(
    array_map(static fn (string $o): string => strtolower(trim($o)), explode(',', (string) env('REVERB_ALLOWED_ORIGINS', 'A.com,b.com, a.com'))),
    static fn (string $o): bool => $o !== ''
)));
$hosts = array_map(function ($url) {
    return parse_url(trim($url), PHP_URL_HOST) ?? trim($url);
}, $origins);

$allowedOrigins = array_values(array_filter($normalised));
if ($allowedOrigins === []) {
    $allowedOrigins = ['*'];
}

return [
    'apps' => [
        'provider' => 'config',
        'apps' => [
            [
                'key' => env('REVERB_APP_KEY'),
                'secret' => env('REVERB_APP_SECRET'),
                'app_id' => env('REVERB_APP_ID'),
                'allowed_origins' => $allowedOrigins,
                'ping_interval' => env('REVERB_APP_PING_INTERVAL', 60),
                'max_message_size' => env('REVERB_APP_MAX_MESSAGE_SIZE', 10_000),
            ],
        ],
    ],
    'raw' => $origins,
    'trimmed' => $trimmed,
    'hosts' => $hosts,
    'nested' => env('A_MISSING', env('B_MISSING', '')),
    'nested_list' => [env('REVERB_ALLOWED_ORIGINS', env('APP_URL', 'http://localhost'))],
    'wildcards' => ['laravel.com', '*.laravel.com'],
    'host_of_app_url' => parse_url(env('APP_URL', 'http://localhost'), PHP_URL_HOST),
    'alias' => S::slug(env('APP_NAME', 'laravel'), '_'),
];
