<?php

use Illuminate\Support\Facades\Route;
use ReverbGo\Laravel\Events\EventsController;

Route::post(config('reverb-go.events.path', 'reverb-go/events'), EventsController::class)
    ->middleware(config('reverb-go.events.middleware', []))
    ->name('reverb-go.events');
