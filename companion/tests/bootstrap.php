<?php

// The environment as the test run started, before any Laravel app boots in
// this process (booting copies .env into it): subprocesses get this one.
define('REVERB_GO_TEST_ENV', getenv());

require __DIR__.'/LaravelApp.php';

define('REVERB_GO_TEST_APP', ReverbGo\Laravel\Tests\LaravelApp::prepare());

// The app's autoloader: Laravel, Reverb, the Pusher SDK and this package
// (installed from this folder).
require REVERB_GO_TEST_APP.'/vendor/autoload.php';

spl_autoload_register(function (string $class) {
    $prefix = 'ReverbGo\\Laravel\\Tests\\';

    if (str_starts_with($class, $prefix)) {
        $file = __DIR__.'/'.str_replace('\\', '/', substr($class, strlen($prefix))).'.php';

        if (is_file($file)) {
            require $file;
        }
    }
});
