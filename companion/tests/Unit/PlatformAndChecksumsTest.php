<?php

namespace ReverbGo\Laravel\Tests\Unit;

use PHPUnit\Framework\TestCase;
use ReverbGo\Laravel\Binary;
use ReverbGo\Laravel\Binary\Checksums;
use ReverbGo\Laravel\Binary\Platform;

class PlatformAndChecksumsTest extends TestCase
{
    public function test_platforms_are_named_like_the_release_archives(): void
    {
        $cases = [
            ['Linux', 'x86_64', 'linux/amd64', 'reverb_1.2.3_linux_amd64.tar.gz', 'reverb'],
            ['Linux', 'aarch64', 'linux/arm64', 'reverb_1.2.3_linux_arm64.tar.gz', 'reverb'],
            ['Darwin', 'arm64', 'darwin/arm64', 'reverb_1.2.3_darwin_arm64.tar.gz', 'reverb'],
            ['Darwin', 'x86_64', 'darwin/amd64', 'reverb_1.2.3_darwin_amd64.tar.gz', 'reverb'],
            ['Windows', 'AMD64', 'windows/amd64', 'reverb_1.2.3_windows_amd64.zip', 'reverb.exe'],
            ['BSD', 'amd64', 'freebsd/amd64', 'reverb_1.2.3_freebsd_amd64.tar.gz', 'reverb'],
        ];

        foreach ($cases as [$family, $machine, $name, $archive, $binary]) {
            $p = Platform::from($family, $machine);
            $this->assertSame($name, (string) $p);
            $this->assertSame($archive, $p->archiveName('1.2.3'));
            $this->assertSame($binary, $p->binaryName());
        }
    }

    public function test_sha256sums_are_parsed_as_sha256sum_writes_them(): void
    {
        $a = str_repeat('a', 64);
        $b = str_repeat('B', 64);
        $sums = Checksums::parse("{$a}  reverb_1.2.3_linux_amd64.tar.gz\n{$b} *reverb_1.2.3_windows_amd64.zip\r\nnot a line\n\n".str_repeat('c', 64)."  reverb_1.2.3_darwin_arm64.tar.gz\n");

        $this->assertSame($a, $sums->for('reverb_1.2.3_linux_amd64.tar.gz'));
        $this->assertSame(strtolower($b), $sums->for('reverb_1.2.3_windows_amd64.zip'));
        $this->assertNull($sums->for('reverb_1.2.3_linux_arm64.tar.gz'));
        $this->assertSame(['reverb_1.2.3_linux_amd64.tar.gz', '1.2.3'], $sums->findArchive(Platform::from('Linux', 'x86_64')));
        $this->assertSame(['reverb_1.2.3_windows_amd64.zip', '1.2.3'], $sums->findArchive(Platform::from('Windows', 'x86_64')));
        $this->assertNull($sums->findArchive(Platform::from('Linux', 'aarch64')));
        $this->assertSame(['linux/amd64', 'windows/amd64', 'darwin/arm64'], $sums->platforms());
    }

    public function test_binary_paths_and_versions(): void
    {
        $this->assertSame('/srv/app/reverb', (new Binary('reverb', '/srv/app/'))->path());
        $this->assertSame('./reverb', (new Binary('reverb', '/srv/app'))->displayPath());
        $this->assertSame('/usr/local/bin/reverb', (new Binary('/usr/local/bin/reverb', '/srv/app'))->path());
        $this->assertSame('C:\\tools\\reverb.exe', (new Binary('C:\\tools\\reverb.exe', '/srv/app'))->path());
        $this->assertSame('/srv/app/bin/reverb', (new Binary('bin/reverb', '/srv/app'))->path());
        $this->assertSame('reverb.exe', Binary::defaultName('Windows'));
        $this->assertSame('reverb', Binary::defaultName('Linux'));

        $this->assertSame('1.2.3', Binary::parseVersion("reverb 1.2.3\n"));
        $this->assertSame('1.2.3', Binary::parseVersion('reverb v1.2.3 (commit abc, built 2025-01-01)'));
        $this->assertSame('2.0.0-rc.1', Binary::parseVersion('reverb version v2.0.0-rc.1'));
        $this->assertNull(Binary::parseVersion('reverb dev'));
        // What the binary prints (reverb version): the first line counts.
        $this->assertSame('1.2.3', Binary::parseVersion("reverb v1.2.3\ncommit:  abc\nbuilt:   2025-01-01\ngo:      go1.26.8\nos/arch: linux/amd64\n"));
        $this->assertNull(Binary::parseVersion("reverb dev\ncommit:  unknown\ngo:      go1.26.8\n"));
    }
}
