<?php

namespace ReverbGo\Laravel\Tests;

use RuntimeException;

/**
 * The real Laravel app the tests run against: the Laravel 11 + Reverb 1.10.2
 * application tarball the project tests with (never copied into the
 * project), unpacked into a temporary folder, with this package installed
 * through a Composer path repository (offline) and the test fixtures
 * (tests/Fixtures/app) added.
 *
 * REVERB_GO_LARAVEL_TARBALL names the tarball (default: ../shared/laravel/
 * beside the repository, or /work/shared/laravel). REVERB_GO_TEST_APP
 * reuses an app prepared before; REVERB_GO_KEEP_TEST_APP=1 keeps the
 * temporary one for inspection.
 */
final class LaravelApp
{
    public const TARBALL = 'laravel-11.33.2-reverb-1.10.2.tar.gz';

    public static function prepare(): string
    {
        if ($app = getenv('REVERB_GO_TEST_APP')) {
            return $app;
        }

        $tarball = static::tarball();
        $dir = sys_get_temp_dir().'/reverb-go-phpunit-'.getmypid();
        static::run(['mkdir', '-p', $dir]);
        static::run(['tar', '-xzf', $tarball, '-C', $dir]);
        $app = $dir.'/app';

        if (! getenv('REVERB_GO_KEEP_TEST_APP')) {
            register_shutdown_function(fn () => static::run(['rm', '-rf', $dir]));
        } else {
            fwrite(STDERR, "Test app kept in {$app}\n");
        }

        static::install($app, dirname(__DIR__));

        return $app;
    }

    /**
     * Install the package into the app from a path repository, offline, and
     * add the fixtures.
     */
    public static function install(string $app, string $package): void
    {
        $env = ['COMPOSER_DISABLE_NETWORK' => '1', 'COMPOSER_ALLOW_SUPERUSER' => '1', 'COMPOSER_NO_AUDIT' => '1'];
        $composer = ['composer', '--no-interaction', '--no-ansi', '--working-dir='.$app];
        static::run([...$composer, 'config', 'repositories.vendored', json_encode(['type' => 'composer', 'url' => 'file://'.$app.'/.composer-local'])], $env);
        static::run([...$composer, 'config', 'repositories.reverb-go', json_encode(['type' => 'path', 'url' => $package])], $env);
        static::run([...$composer, 'require', 'reverb-go/laravel:@dev'], $env);

        static::run(['cp', '-R', __DIR__.'/Fixtures/app/ReverbGoFixtures', $app.'/app/ReverbGoFixtures']);
        $providers = $app.'/bootstrap/providers.php';
        $code = (string) file_get_contents($providers);
        file_put_contents($providers, str_replace('];', "    App\\ReverbGoFixtures\\FixtureServiceProvider::class,\n];", $code));
    }

    public static function tarball(): string
    {
        $candidates = array_filter([
            getenv('REVERB_GO_LARAVEL_TARBALL') ?: null,
            dirname(__DIR__, 2).'/../shared/laravel/'.self::TARBALL,
            dirname(__DIR__, 3).'/shared/laravel/'.self::TARBALL,
            '/work/shared/laravel/'.self::TARBALL,
        ]);

        foreach ($candidates as $candidate) {
            if (is_file($candidate)) {
                return $candidate;
            }
        }

        throw new RuntimeException('The Laravel test app tarball ('.self::TARBALL.') was not found; set REVERB_GO_LARAVEL_TARBALL. Looked in: '.implode(', ', $candidates));
    }

    /**
     * Run a command, failing loudly.
     *
     * @param  array<int, string>  $command
     * @param  array<string, string>  $env  added to the environment
     */
    public static function run(array $command, array $env = []): string
    {
        $process = proc_open($command, [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, null, $env === [] ? null : array_merge(getenv(), $env));

        if (! is_resource($process)) {
            throw new RuntimeException('Cannot run '.implode(' ', $command));
        }

        $out = stream_get_contents($pipes[1]);
        $err = stream_get_contents($pipes[2]);
        fclose($pipes[1]);
        fclose($pipes[2]);

        if (($code = proc_close($process)) !== 0) {
            throw new RuntimeException(implode(' ', $command)." exited with {$code}:\n{$out}\n{$err}");
        }

        return (string) $out;
    }
}
