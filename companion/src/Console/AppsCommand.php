<?php

namespace ReverbGo\Laravel\Console;

use Illuminate\Console\Command;
use ReverbGo\Laravel\Apps\AppsExporter;
use Symfony\Component\Console\Attribute\AsCommand;
use Symfony\Component\Console\Output\ConsoleOutputInterface;
use Symfony\Component\Console\Output\OutputInterface;
use Throwable;

/**
 * `php artisan reverb:apps`: the apps Reverb's ApplicationManager gives, for
 * people (a table, secrets hidden) and, with --json, for the reverb server,
 * which runs it when the apps come from a custom provider.
 */
#[AsCommand(name: 'reverb:apps')]
class AppsCommand extends Command
{
    /**
     * @var string
     */
    protected $signature = 'reverb:apps
                {--json : Print one JSON object {"apps":[...]} with every setting, secrets included (what the reverb server reads)}';

    /**
     * @var string
     */
    protected $description = 'List the apps of Reverb\'s application provider';

    /**
     * Execute the console command.
     */
    public function handle(AppsExporter $exporter): int
    {
        try {
            $apps = $exporter->export();
            $json = $this->option('json') ? AppsExporter::json($apps) : null;
        } catch (Throwable $e) {
            $this->reportFailure($e);

            return self::FAILURE;
        }

        if ($json !== null) {
            // Printed even with -q: it is the command's answer, not a message.
            $this->output->writeln($json, OutputInterface::OUTPUT_RAW | OutputInterface::VERBOSITY_QUIET);

            return self::SUCCESS;
        }

        if ($apps === []) {
            $this->components->warn('No apps: every connection would be refused.');

            return self::SUCCESS;
        }

        $this->table(['app_id', 'key', 'allowed_origins', 'max_connections', 'max_message_size'], array_map(fn ($app) => [
            $app['app_id'],
            $app['key'],
            implode(', ', (array) $app['allowed_origins']),
            $app['max_connections'] ?? 'unlimited',
            $app['max_message_size'],
        ], $apps));

        return self::SUCCESS;
    }

    /**
     * Report a failure on stderr only: stdout stays empty for the server.
     */
    protected function reportFailure(Throwable $e): void
    {
        $stderr = $this->output->getOutput() instanceof ConsoleOutputInterface
            ? $this->output->getOutput()->getErrorOutput()
            : $this->output;

        $stderr->writeln(sprintf(
            'reverb:apps: the application provider failed: %s: %s (%s:%d)',
            get_class($e),
            $e->getMessage(),
            $e->getFile(),
            $e->getLine(),
        ), OutputInterface::OUTPUT_RAW | OutputInterface::VERBOSITY_QUIET);

        report($e);
    }
}
