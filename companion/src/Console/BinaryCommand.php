<?php

namespace ReverbGo\Laravel\Console;

use Illuminate\Console\Command;
use Illuminate\Http\Client\Factory as Http;
use ReverbGo\Laravel\Binary;
use ReverbGo\Laravel\Binary\Installer;
use ReverbGo\Laravel\Binary\InstallFailed;
use ReverbGo\Laravel\Binary\Platform;
use Symfony\Component\Console\Attribute\AsCommand;

/**
 * `php artisan reverb:binary`: install the reverb binary for this machine
 * from the project's releases. Safe to run on every deploy: it does nothing
 * when that version is installed already, and never asks a question.
 */
#[AsCommand(name: 'reverb:binary')]
class BinaryCommand extends Command
{
    /**
     * @var string
     */
    protected $signature = 'reverb:binary
                {--release= : The version to install, "latest" or e.g. 1.2.3 (default: the "releases.version" setting, REVERB_GO_VERSION)}
                {--force : Download and install even when that version is installed already}';

    /**
     * @var string
     */
    protected $description = 'Download, verify and install the reverb binary for this machine';

    /**
     * Execute the console command.
     */
    public function handle(Binary $binary, Http $http): int
    {
        $config = $this->laravel['config'];
        $url = (string) $config->get('reverb-go.releases.url');
        $version = (string) ($this->option('release') ?: $config->get('reverb-go.releases.version', 'latest'));
        $installer = new Installer($http, $url, (int) $config->get('reverb-go.releases.timeout', 300));
        $platform = Platform::current();

        try {
            $release = $installer->resolve($version, $platform);

            if (! $installer->install($release, $binary, (bool) $this->option('force'))) {
                $this->components->info("reverb {$release->version} is already installed at {$binary->displayPath()}.");

                return self::SUCCESS;
            }
        } catch (InstallFailed $e) {
            $this->components->error($e->getMessage());

            return self::FAILURE;
        }

        $this->components->info("Installed reverb {$release->version} ({$platform}) at {$binary->displayPath()}, checked against SHA256SUMS.");
        $this->components->bulletList([
            'php artisan reverb:start runs it.',
            'Restart a server that is already running (supervisorctl restart, systemctl restart, or restart the Forge daemon) to run the new version.',
        ]);

        return self::SUCCESS;
    }
}
