<?php

namespace ReverbGo\Laravel\Console;

use Illuminate\Console\Command;
use Laravel\Reverb\Contracts\ApplicationProvider;
use ReverbGo\Laravel\Apps\AppsExporter;
use ReverbGo\Laravel\Binary;
use ReverbGo\Laravel\Process\Launcher;
use ReverbGo\Laravel\Process\ServerEnvironment;
use Symfony\Component\Console\Output\OutputInterface;
use Throwable;

/**
 * `php artisan reverb:start`, running the reverb binary instead of PHP
 * Reverb: same options, same precedence (an option, else the config).
 *
 * No #[AsCommand] on purpose: the provider adds this command as an object,
 * which Artisan prefers over Reverb's lazily registered one.
 */
class StartCommand extends Command
{
    /**
     * The variable that tells the server a provider is bound to Reverb's
     * contract (laravelcfg reads it).
     */
    public const BOUND_PROVIDER = 'REVERB_GO_APPS_PROVIDER';

    /**
     * The name and signature of the console command (Reverb's own).
     *
     * @var string
     */
    protected $signature = 'reverb:start
                {--host= : The IP address the server should bind to}
                {--port= : The port the server should listen on}
                {--path= : The path the server should prefix to all routes}
                {--hostname= : The hostname the server is accessible from}
                {--debug : Indicates whether debug messages should be displayed in the terminal}';

    /**
     * The console command description.
     *
     * @var string
     */
    protected $description = 'Start the Reverb server (the reverb binary)';

    /**
     * Execute the console command.
     */
    public function handle(Binary $binary, Launcher $launcher): int
    {
        $path = $binary->path();

        if (! $binary->exists()) {
            $this->components->error(sprintf(
                'The reverb binary is not installed at %s. Run php artisan reverb:binary to download it, set REVERB_GO_BINARY to a reverb binary you have, or set REVERB_GO_SERVER=php to run PHP Reverb.',
                $binary->displayPath(),
            ));

            return self::FAILURE;
        }

        if (DIRECTORY_SEPARATOR === '/' && ! is_executable($path)) {
            $this->components->error("{$binary->displayPath()} is not executable: chmod +x {$binary->displayPath()} (or run php artisan reverb:binary --force).");

            return self::FAILURE;
        }

        $environment = (new ServerEnvironment($this->laravel))->build(
            getenv(),
            $this->laravel['config']->get('reverb-go.php_binary') ?: PHP_BINARY,
            $this->output->isDecorated(),
        );

        // A provider bound to Reverb's contract while reverb.apps.provider
        // stays "config": the server cannot see the binding, so it is told
        // to ask PHP for the apps (php artisan reverb:apps --json).
        if (($environment[self::BOUND_PROVIDER] ?? '') === '' && ($bound = $this->boundProvider()) !== null) {
            $environment[self::BOUND_PROVIDER] = $bound;
        }

        return $launcher->launch(
            $path,
            $this->serverArguments(),
            $environment,
            $this->laravel->basePath(),
            quiet: $this->quiet(),
            exec: filter_var($this->laravel['config']->get('reverb-go.exec', true), FILTER_VALIDATE_BOOL, FILTER_NULL_ON_FAILURE) ?? true,
        );
    }

    /**
     * The class bound to Reverb's ApplicationProvider contract in place of
     * the config provider, or null.
     */
    protected function boundProvider(): ?string
    {
        try {
            return $this->laravel->make(AppsExporter::class)->boundProviderClass();
        } catch (Throwable) {
            // With the "config" setting only a binding of the app's own
            // can fail to resolve: the server's reverb:apps run says why.
            return ApplicationProvider::class;
        }
    }

    /**
     * Whether artisan runs with -q (or --silent, Symfony 7.2's level below
     * it): only errors are displayed.
     */
    protected function quiet(): bool
    {
        return $this->output->getVerbosity() <= OutputInterface::VERBOSITY_QUIET;
    }

    /**
     * The `reverb start` command line: the project, artisan's --env and -q,
     * the options given (empty ones are "not given", as in Reverb), then the
     * start_options setting.
     *
     * With -q the server prints only its errors (the launcher sends them to
     * stderr), and --debug is left out: Reverb shows no message stream with
     * -q either.
     *
     * @return array<int, string>
     */
    public function serverArguments(): array
    {
        $args = ['start', '--dir='.$this->laravel->basePath()];

        if (is_string($env = $this->option('env')) && $env !== '') {
            $args[] = '--env='.$env;
        }

        if ($quiet = $this->quiet()) {
            $args[] = '--quiet';
        }

        foreach (['host', 'port', 'path', 'hostname'] as $name) {
            $value = $this->option($name);

            if (is_string($value) && $value !== '') {
                $args[] = "--{$name}={$value}";
            }
        }

        if ($this->option('debug') && ! $quiet) {
            $args[] = '--debug';
        }

        foreach ((array) $this->laravel['config']->get('reverb-go.start_options', []) as $option) {
            if (! ($quiet && $option === '--debug')) {
                $args[] = (string) $option;
            }
        }

        return $args;
    }
}
