<?php

namespace ReverbGo\Laravel\Binary;

use RuntimeException;

/**
 * An OS/architecture pair as the release archives name them (Go's GOOS and
 * GOARCH): linux/amd64, darwin/arm64, windows/amd64...
 */
final class Platform
{
    public function __construct(public readonly string $os, public readonly string $arch)
    {
        //
    }

    /**
     * This machine.
     */
    public static function current(): self
    {
        return self::from(PHP_OS_FAMILY, php_uname('m'));
    }

    /**
     * @param  string  $osFamily  PHP_OS_FAMILY
     * @param  string  $machine  php_uname('m')
     */
    public static function from(string $osFamily, string $machine): self
    {
        $os = match ($osFamily) {
            'Linux' => 'linux',
            'Darwin' => 'darwin',
            'Windows' => 'windows',
            'BSD' => 'freebsd',
            default => strtolower($osFamily),
        };

        $arch = match (strtolower($machine)) {
            'x86_64', 'amd64', 'x64' => 'amd64',
            'aarch64', 'arm64', 'armv8', 'armv8l' => 'arm64',
            'i386', 'i486', 'i586', 'i686', 'x86' => '386',
            default => strtolower($machine),
        };

        return new self($os, $arch);
    }

    /**
     * "tar.gz", or "zip" on Windows.
     */
    public function archiveExtension(): string
    {
        return $this->os === 'windows' ? 'zip' : 'tar.gz';
    }

    /**
     * The binary inside the archive.
     */
    public function binaryName(): string
    {
        return $this->os === 'windows' ? 'reverb.exe' : 'reverb';
    }

    /**
     * reverb_1.2.3_linux_amd64.tar.gz
     */
    public function archiveName(string $version): string
    {
        if (! preg_match('/^[0-9A-Za-z.+-]+$/', $version)) {
            throw new RuntimeException("Not a version: {$version}");
        }

        return "reverb_{$version}_{$this->os}_{$this->arch}.{$this->archiveExtension()}";
    }

    public function __toString(): string
    {
        return "{$this->os}/{$this->arch}";
    }
}
