<?php

namespace ReverbGo\Laravel\Tests\Unit;

use PHPUnit\Framework\TestCase;
use ReverbGo\Laravel\Tests\LaravelApp;

/**
 * The package has two composer.json files: this folder's (a path
 * repository to companion/) and the repository root's (a VCS repository, and
 * Packagist, read only the root). They describe the same package: the root's
 * is this one with its paths under companion/, plus an archive.exclude list
 * that leaves only the package's own files in a dist archive.
 */
class ComposerJsonTest extends TestCase
{
    /** Keys only the root file has. */
    private const ROOT_ONLY = ['archive'];

    /** Keys whose values are paths, prefixed with companion/ at the root. */
    private const PATHS = ['autoload', 'autoload-dev'];

    /** What a dist archive of the root holds besides these folders' files. */
    private const ARCHIVED_FILES = ['LICENSE', 'composer.json', 'companion/README.md'];

    private const ARCHIVED_FOLDERS = ['companion/config', 'companion/routes', 'companion/src'];

    private static function repo(): string
    {
        return dirname(__DIR__, 3);
    }

    /**
     * @return array<string, mixed>
     */
    private static function read(string $file): array
    {
        return json_decode((string) file_get_contents($file), true, 512, JSON_THROW_ON_ERROR);
    }

    public function test_the_root_composer_json_describes_the_same_package_as_this_folders(): void
    {
        $package = static::read(dirname(__DIR__, 2).'/composer.json');
        $root = static::read(static::repo().'/composer.json');

        $this->assertSame(
            array_keys($package),
            array_values(array_diff(array_keys($root), self::ROOT_ONLY)),
            'the same keys, in the same order, plus '.implode(', ', self::ROOT_ONLY),
        );

        foreach ($package as $key => $value) {
            if (in_array($key, self::PATHS, true)) {
                $value = static::underCompanion($value);
            }

            $this->assertSame($value, $root[$key], "\"{$key}\" of composer.json and companion/composer.json");
        }
    }

    public function test_the_root_autoload_paths_exist(): void
    {
        $root = static::read(static::repo().'/composer.json');

        foreach (self::PATHS as $key) {
            array_walk_recursive($root[$key], function ($path) use ($key) {
                $this->assertFileExists(static::repo().'/'.$path, "{$key}: {$path}");
            });
        }
    }

    public function test_a_dist_archive_of_the_root_holds_only_the_package(): void
    {
        $dir = sys_get_temp_dir().'/reverb-go-archive-'.bin2hex(random_bytes(6));

        try {
            LaravelApp::run(
                ['composer', '--no-interaction', '--no-ansi', '--working-dir='.static::repo(), 'archive', '--format=tar', '--dir='.$dir, '--file=package'],
                ['COMPOSER_DISABLE_NETWORK' => '1', 'COMPOSER_ALLOW_SUPERUSER' => '1'],
            );
            $archived = array_filter(explode("\n", LaravelApp::run(['tar', '-tf', $dir.'/package.tar'])), fn ($f) => $f !== '' && ! str_ends_with($f, '/'));
        } finally {
            LaravelApp::run(['rm', '-rf', $dir]);
        }

        $expected = self::ARCHIVED_FILES;

        foreach (self::ARCHIVED_FOLDERS as $folder) {
            $files = new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator(static::repo().'/'.$folder, \FilesystemIterator::SKIP_DOTS));

            foreach ($files as $file) {
                $expected[] = substr($file->getPathname(), strlen(static::repo()) + 1);
            }
        }

        sort($expected);
        sort($archived);
        $this->assertSame($expected, array_values($archived));
    }

    /**
     * An autoload section with each path under companion/.
     */
    private static function underCompanion(mixed $value): mixed
    {
        if (is_array($value)) {
            return array_map(fn ($v) => static::underCompanion($v), $value);
        }

        return is_string($value) ? 'companion/'.$value : $value;
    }
}
