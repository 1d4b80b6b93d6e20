<?php

namespace ReverbGo\Laravel;

use Illuminate\Console\Application as Artisan;
use Illuminate\Support\ServiceProvider;
use ReverbGo\Laravel\Console\AppsCommand;
use ReverbGo\Laravel\Console\BinaryCommand;
use ReverbGo\Laravel\Console\StartCommand;

class ReverbGoServiceProvider extends ServiceProvider
{
    /**
     * Register the package's services.
     */
    public function register(): void
    {
        $this->mergeConfigFrom(__DIR__.'/../config/reverb-go.php', 'reverb-go');

        $this->app->singleton(Binary::class, fn ($app) => new Binary(
            $app['config']->get('reverb-go.binary') ?: Binary::defaultName(),
            $app->basePath(),
        ));
    }

    /**
     * Bootstrap the package: commands, config publishing, the events route.
     */
    public function boot(): void
    {
        if ($this->app->runningInConsole()) {
            $this->publishes([
                __DIR__.'/../config/reverb-go.php' => $this->app->configPath('reverb-go.php'),
            ], 'reverb-go-config');

            $this->commands([BinaryCommand::class, AppsCommand::class]);

            if (static::runsGoServer($this->app['config']->get('reverb-go.server'))) {
                $this->replaceStartCommand();
            }
        }

        if ($this->app['config']->get('reverb-go.events.enabled', true)) {
            $this->loadRoutesFrom(__DIR__.'/../routes/reverb-go.php');
        }
    }

    /**
     * Make reverb:start run the Go server.
     *
     * Laravel Reverb registers its reverb:start lazily, by name (its class
     * carries #[AsCommand]), in the command loader. Symfony's application
     * looks a name up among the command objects it holds before asking the
     * loader, so a command added as an object wins whatever the order in
     * which the providers were discovered, and Reverb's other commands
     * (reverb:restart, reverb:install) stay as they are.
     */
    protected function replaceStartCommand(): void
    {
        Artisan::starting(function (Artisan $artisan) {
            // StartCommand has no default name, so resolve() adds an
            // instance rather than a lazy entry.
            $artisan->resolve(StartCommand::class);
        });
    }

    /**
     * Whether the "server" setting selects the Go server.
     */
    public static function runsGoServer(mixed $setting): bool
    {
        return ! in_array(strtolower(trim((string) $setting)), ['php', 'reverb'], true);
    }
}
