<?php
/*
 * Structurally wrong file seen in the wild: the shallow merge fills the
 * missing top-level keys from the package default.
 */
return [
    'id' => env('REVERB_APP_ID'),
    'server' => ['host' => '0.0.0.0'],
    'clients' => [],
    'servers' => [
        ['host' => '127.0.0.1', 'port' => 6001],
    ],
];
