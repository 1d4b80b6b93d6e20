<?php

return [

    /*
    |--------------------------------------------------------------------------
    | Server
    |--------------------------------------------------------------------------
    |
    | Which server `php artisan reverb:start` runs: "go" runs the reverb
    | binary in place of the PHP process; "php" gives the command back to
    | Laravel Reverb's own server.
    |
    */

    'server' => env('REVERB_GO_SERVER', 'go'),

    /*
    |--------------------------------------------------------------------------
    | Binary
    |--------------------------------------------------------------------------
    |
    | Where the reverb binary is, relative to the project root unless
    | absolute. `php artisan reverb:binary` installs it there; point this at
    | a binary the machine already has to use that one instead.
    |
    */

    'binary' => env('REVERB_GO_BINARY', PHP_OS_FAMILY === 'Windows' ? 'reverb.exe' : 'reverb'),

    /*
    |--------------------------------------------------------------------------
    | Replace The PHP Process
    |--------------------------------------------------------------------------
    |
    | With pcntl available, reverb:start replaces the PHP process with the
    | server (exec), so supervisor, systemd and Forge signal the server
    | itself. false runs the server as a child instead, forwarding signals
    | and passing its exit status through (always so on Windows).
    |
    */

    'exec' => env('REVERB_GO_EXEC', true),

    /*
    |--------------------------------------------------------------------------
    | Releases
    |--------------------------------------------------------------------------
    |
    | Where reverb:binary downloads archives and SHA256SUMS from (a GitHub
    | releases page or a mirror with the same layout: {url}/download/v1.2.3/
    | and {url}/latest/download/), and which version: "latest" or "1.2.3".
    |
    */

    'releases' => [
        'url' => env('REVERB_GO_RELEASES_URL', 'https://github.com/reverb-go/reverb/releases'),
        'version' => env('REVERB_GO_VERSION', 'latest'),
        'timeout' => (int) env('REVERB_GO_DOWNLOAD_TIMEOUT', 300),
    ],

    /*
    |--------------------------------------------------------------------------
    | PHP Binary
    |--------------------------------------------------------------------------
    |
    | The PHP the server runs `php artisan reverb:apps --json` with when the
    | apps come from a custom provider. Empty: the PHP running reverb:start.
    |
    */

    'php_binary' => env('REVERB_PHP_BINARY'),

    /*
    |--------------------------------------------------------------------------
    | Start Options
    |--------------------------------------------------------------------------
    |
    | Extra options for `reverb start`, e.g. ['--workers=4'] or
    | ['--drain-window=30s'].
    |
    */

    'start_options' => [],

    /*
    |--------------------------------------------------------------------------
    | Reverb's Events
    |--------------------------------------------------------------------------
    |
    | The route the server posts Reverb's events to (MessageReceived,
    | MessageSent, ChannelCreated, ChannelRemoved, ConnectionPruned), signed
    | like Pusher webhooks. It is outside the "web" middleware group, so no
    | session and no CSRF token; add middleware here if you need some.
    |
    */

    'events' => [
        'enabled' => env('REVERB_GO_EVENTS', true),
        'path' => env('REVERB_GO_EVENTS_PATH', 'reverb-go/events'),
        'middleware' => [],
    ],

];
