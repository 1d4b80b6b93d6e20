<?php

namespace ReverbGo\Laravel\Tests\Feature;

use Illuminate\Http\Client\Factory;
use PHPUnit\Framework\TestCase;
use ReverbGo\Laravel\Binary;
use ReverbGo\Laravel\Binary\Installer;
use ReverbGo\Laravel\Binary\Platform;
use ReverbGo\Laravel\Binary\Release;
use ReverbGo\Laravel\Tests\Artisan;
use ReverbGo\Laravel\Tests\LaravelApp;
use ZipArchive;

/**
 * `php artisan reverb:binary` against a local release server (php -S)
 * laid out as GitHub releases, with archives built here.
 */
class BinaryCommandTest extends TestCase
{
    private static string $root;

    private static string $url;

    /** @var resource */
    private static $server;

    private string $target;

    public static function setUpBeforeClass(): void
    {
        self::$root = sys_get_temp_dir().'/reverb-go-releases-'.bin2hex(random_bytes(6));
        $p = Platform::current();

        self::release('1.2.3', $p->archiveName('1.2.3'));
        self::release('1.3.0', $p->archiveName('1.3.0'), latest: true);
        self::release('1.4.0', $p->archiveName('1.4.0'), corruptSum: true);
        self::release('1.5.0', 'reverb_1.5.0_plan9_mips.tar.gz');
        self::release('1.6.0', $p->archiveName('1.6.0'), binary: null);
        self::release('1.7.0', $p->archiveName('1.7.0'), reports: '1.6.9');

        $socket = stream_socket_server('tcp://127.0.0.1:0');
        $addr = stream_socket_get_name($socket, false);
        fclose($socket);
        self::$url = 'http://'.$addr;
        self::$server = proc_open([PHP_BINARY, '-S', $addr, '-t', self::$root], [1 => ['file', '/dev/null', 'w'], 2 => ['file', '/dev/null', 'w']], $pipes);
        $deadline = microtime(true) + 10;
        while (! @fsockopen('127.0.0.1', (int) substr(strrchr($addr, ':'), 1))) {
            if (microtime(true) > $deadline) {
                self::fail('php -S did not start');
            }
            usleep(50_000);
        }
    }

    public static function tearDownAfterClass(): void
    {
        proc_terminate(self::$server);
        proc_close(self::$server);
        LaravelApp::run(['rm', '-rf', self::$root]);
    }

    /**
     * One release folder: download/v{version}/{archive} + SHA256SUMS.
     */
    private static function release(string $version, string $archive, bool $latest = false, bool $corruptSum = false, ?string $binary = 'reverb', ?string $reports = null): void
    {
        $dir = self::$root.'/download/v'.$version;
        $stage = $dir.'/stage';
        mkdir($stage, 0755, true);
        foreach (['LICENSE', 'README.md', 'CHANGELOG.md'] as $f) {
            file_put_contents("{$stage}/{$f}", $f);
        }
        if ($binary !== null) {
            file_put_contents("{$stage}/{$binary}", "#!/bin/sh\n[ \"\$1\" = --version ] && echo 'reverb v".($reports ?? $version)." (commit abc)' && exit 0\necho running\n");
            chmod("{$stage}/{$binary}", 0755);
        }
        LaravelApp::run(['tar', '-czf', "{$dir}/{$archive}", '-C', $stage, '.']);
        LaravelApp::run(['rm', '-rf', $stage]);
        $sum = hash_file('sha256', "{$dir}/{$archive}");
        if ($corruptSum) {
            $sum = str_repeat('0', 64);
        }
        file_put_contents("{$dir}/SHA256SUMS", "{$sum}  {$archive}\n".str_repeat('1', 64)."  reverb_{$version}_windows_amd64.zip\n");
        if ($latest) {
            mkdir(self::$root.'/latest/download', 0755, true);
            copy("{$dir}/SHA256SUMS", self::$root.'/latest/download/SHA256SUMS');
        }
    }

    protected function setUp(): void
    {
        $this->target = sys_get_temp_dir().'/reverb-go-bin-'.bin2hex(random_bytes(6)).'/bin/reverb';
    }

    protected function tearDown(): void
    {
        LaravelApp::run(['rm', '-rf', dirname($this->target, 2)]);
    }

    private function binary(array $args = [], array $env = []): array
    {
        return Artisan::run(['reverb:binary', '--no-ansi', ...$args], $env + ['REVERB_GO_RELEASES_URL' => self::$url, 'REVERB_GO_BINARY' => $this->target]);
    }

    private function installedVersion(): string
    {
        return trim((string) shell_exec(escapeshellarg($this->target).' --version'));
    }

    public function test_latest_then_idempotent_then_pinned_and_forced(): void
    {
        [$code, $out, $err] = $this->binary();
        $this->assertSame(0, $code, $out.$err);
        $this->assertStringContainsString('Installed reverb 1.3.0 ('.Platform::current().') at '.$this->target.', checked against SHA256SUMS.', $out);
        $this->assertTrue(is_executable($this->target));
        $this->assertSame('reverb v1.3.0 (commit abc)', $this->installedVersion());
        $this->assertSame([], glob(dirname($this->target).'/.*reverb*'), 'no temporary files left');

        clearstatcache();
        $inode = fileinode($this->target);
        [$code, $out] = $this->binary(['-n']);
        $this->assertSame(0, $code);
        $this->assertStringContainsString('reverb 1.3.0 is already installed at '.$this->target, $out);
        clearstatcache();
        $this->assertSame($inode, fileinode($this->target));

        [$code, $out] = $this->binary(['--release=1.2.3']);
        $this->assertSame(0, $code, $out);
        $this->assertSame('reverb v1.2.3 (commit abc)', $this->installedVersion());

        [$code, $out] = $this->binary([], ['REVERB_GO_VERSION' => 'v1.2.3']);
        $this->assertStringContainsString('already installed', $out);

        // A hard link keeps the installed file's inode alive, so the
        // filesystem cannot hand the same number to the replacement.
        $held = dirname($this->target, 2).'/held-reverb';
        $this->assertTrue(link($this->target, $held));
        clearstatcache();
        $inode = fileinode($this->target);
        [$code, $out] = $this->binary(['--release=v1.2.3', '--force']);
        $this->assertSame(0, $code);
        $this->assertStringContainsString('Installed reverb 1.2.3', $out);
        clearstatcache();
        $this->assertNotSame($inode, fileinode($this->target), 'replaced by rename');
        $this->assertSame($inode, fileinode($held), 'the old file was not written in place');
    }

    public function test_failures_say_what_went_wrong_and_keep_the_installed_binary(): void
    {
        $this->binary(['--release=1.2.3']);

        $cases = [
            '1.4.0' => 'Checksum mismatch for reverb_1.4.0_',
            '9.9.9' => 'Not found: '.self::$url.'/download/v9.9.9/SHA256SUMS (404)',
            '1.5.0' => 'The release v1.5.0 has no archive for this machine ('.Platform::current().'): it has plan9/mips, windows/amd64',
            '1.6.0' => 'no reverb in the archive',
            '1.7.0' => 'reports version 1.6.9, not 1.7.0. Nothing was installed.',
        ];
        foreach ($cases as $version => $message) {
            [$code, $out] = $this->binary(['--release='.$version]);
            $this->assertSame(1, $code, $version);
            $this->assertStringContainsString($message, str_replace("\n", ' ', preg_replace('/\s+/', ' ', $out)), $version);
            $this->assertSame('reverb v1.2.3 (commit abc)', $this->installedVersion(), $version);
        }
        $this->assertSame(['reverb'], array_values(array_diff(scandir(dirname($this->target)), ['.', '..'])), 'no temporary files left');

        [$code, $out] = $this->binary([], ['REVERB_GO_RELEASES_URL' => 'http://127.0.0.1:1']);
        $this->assertSame(1, $code);
        $this->assertStringContainsString('Cannot reach http://127.0.0.1:1/latest/download/SHA256SUMS', $out);
        // Offline or behind a proxy: what to do instead.
        $this->assertStringContainsString('Behind a proxy, set HTTPS_PROXY. Without network access, set REVERB_GO_RELEASES_URL to a mirror laid out as the releases are '
            .'(download/v1.2.3/, latest/download/; file:///path/to/mirror works), or REVERB_GO_BINARY to a reverb binary you already have.', preg_replace('/\s+/', ' ', $out));
    }

    public function test_an_offline_mirror_and_the_default_location(): void
    {
        [$code, $out] = $this->binary([], ['REVERB_GO_RELEASES_URL' => 'file://'.self::$root]);
        $this->assertSame(0, $code, $out);
        $this->assertSame('reverb v1.3.0 (commit abc)', $this->installedVersion());

        // Default: ./reverb in the project root.
        $default = REVERB_GO_TEST_APP.'/reverb';
        [$code, $out] = Artisan::run(['reverb:binary', '--no-ansi'], ['REVERB_GO_RELEASES_URL' => self::$url]);
        try {
            $this->assertSame(0, $code, $out);
            $this->assertStringContainsString('at ./reverb,', $out);
            $this->assertTrue(is_executable($default));
        } finally {
            @unlink($default);
        }
    }

    public function test_zip_archives_unpack(): void
    {
        if (! class_exists(ZipArchive::class)) {
            $this->markTestSkipped('ext-zip (php-zip) is not installed');
        }
        $dir = dirname($this->target);
        mkdir($dir, 0755, true);
        $zip = new ZipArchive;
        $zip->open("{$dir}/reverb_1.0.0_windows_amd64.zip", ZipArchive::CREATE);
        $zip->addFromString('reverb.exe', 'MZ binary');
        $zip->addFromString('LICENSE', 'license');
        $zip->close();

        $installer = new class(new Factory, 'unused') extends Installer
        {
            public function unpack(string $archive, string $name, string $work): string
            {
                return $this->extract($archive, $name, $work);
            }
        };
        mkdir("{$dir}/work");
        $path = $installer->unpack("{$dir}/reverb_1.0.0_windows_amd64.zip", 'reverb.exe', "{$dir}/work");
        $this->assertSame('MZ binary', file_get_contents($path));
    }

    public function test_the_binary_is_checked_under_a_name_ending_in_its_extension(): void
    {
        // Windows runs a file as a program by its extension: the new
        // reverb.exe must be checked as .reverb.new-….exe, not .reverb.exe.new-….
        $installer = new class(new Factory, self::$url) extends Installer
        {
            public array $checked = [];

            protected function check(string $path, Release $release): void
            {
                $this->checked[] = basename($path);
                parent::check($path, $release);
            }
        };
        $target = dirname($this->target).'/reverb.exe';
        $release = $installer->resolve('1.2.3', Platform::current());

        $this->assertTrue($installer->install($release, new Binary($target, dirname($target))));
        $this->assertCount(1, $installer->checked);
        $this->assertMatchesRegularExpression('/^\.reverb\.new-[0-9a-f]{8}\.exe$/', $installer->checked[0]);
        $this->assertFileExists($target);
        $this->assertSame(['reverb.exe'], array_values(array_diff(scandir(dirname($target)), ['.', '..'])));
    }
}
