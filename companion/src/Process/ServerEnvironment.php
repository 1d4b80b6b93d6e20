<?php

namespace ReverbGo\Laravel\Process;

use Dotenv\Dotenv;
use Illuminate\Contracts\Foundation\Application;
use Throwable;

/**
 * The environment the server process starts with.
 *
 * Laravel copies every .env variable into the process environment
 * (putenv) while it boots. Handing that on would make them look like real
 * environment variables to the server, which reads .env itself and lets the
 * real environment win: after an edit of .env and a restart, the server
 * would keep the old values. So the variables .env set are left out, as if
 * the server had been started from the shell.
 */
class ServerEnvironment
{
    /**
     * Variables Symfony Console sets for itself.
     */
    protected const CONSOLE_VARIABLES = ['SHELL_VERBOSITY'];

    public function __construct(protected Application $app)
    {
        //
    }

    /**
     * @param  array<string, string>  $current  getenv()
     * @return array<string, string>
     */
    public function build(array $current, string $phpBinary, bool $decorated = true): array
    {
        foreach ($this->dotenvVariables() as $name => $value) {
            if (array_key_exists($name, $current) && $current[$name] === $value) {
                unset($current[$name]);
            }
        }

        foreach (static::CONSOLE_VARIABLES as $name) {
            unset($current[$name]);
        }

        // The server runs `php artisan reverb:apps --json` with this PHP
        // when the apps come from a custom provider.
        if (($current['REVERB_PHP_BINARY'] ?? '') === '') {
            $current['REVERB_PHP_BINARY'] = $phpBinary;
        }

        if (! $decorated) {
            $current['NO_COLOR'] = '1';
        }

        return $current;
    }

    /**
     * The file's content as phpdotenv's file reader hands it to the parser
     * (Dotenv\Util\Str::utf8, which Dotenv::parse skips): converted to
     * UTF-8 and without a byte order mark, which editors on Windows write.
     * Parsed with the mark, the first name is invalid and nothing would be
     * left out.
     */
    protected static function asLoaded(string $content): string
    {
        if (function_exists('mb_convert_encoding')) {
            $content = (string) @mb_convert_encoding($content, 'UTF-8');
        }

        return str_starts_with($content, "\xEF\xBB\xBF") ? substr($content, 3) : $content;
    }

    /**
     * The variables Laravel loaded from the .env file it read, with the
     * values it gave them (none when the configuration is cached: .env is
     * not read then).
     *
     * @return array<string, string|null>
     */
    public function dotenvVariables(): array
    {
        if ($this->app->configurationIsCached() || ! class_exists(Dotenv::class)) {
            return [];
        }

        $file = $this->app->environmentFilePath();

        if (! is_file($file) || ! is_readable($file)) {
            return [];
        }

        try {
            return Dotenv::parse(static::asLoaded((string) file_get_contents($file)));
        } catch (Throwable) {
            return [];
        }
    }
}
