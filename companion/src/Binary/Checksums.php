<?php

namespace ReverbGo\Laravel\Binary;

/**
 * A release's SHA256SUMS file (`sha256sum` format: "<hex>  <file name>",
 * a "*" before the name for binary mode).
 */
final class Checksums
{
    /**
     * @param  array<string, string>  $sums  file name => lowercase hex digest
     */
    public function __construct(public readonly array $sums)
    {
        //
    }

    public static function parse(string $text): self
    {
        $sums = [];

        foreach (preg_split('/\r?\n/', $text) as $line) {
            if (preg_match('/^([0-9a-fA-F]{64}) [ *]?(\S.*)$/', trim($line), $m)) {
                $sums[trim($m[2])] = strtolower($m[1]);
            }
        }

        return new self($sums);
    }

    /**
     * The digest of a file, or null.
     */
    public function for(string $file): ?string
    {
        return $this->sums[$file] ?? null;
    }

    /**
     * The archive for a platform in this file, whatever its version:
     * [file name, version], or null.
     *
     * @return array{0: string, 1: string}|null
     */
    public function findArchive(Platform $platform): ?array
    {
        $pattern = '/^reverb_(.+)_'.preg_quote($platform->os, '/').'_'.preg_quote($platform->arch, '/').'\.'.preg_quote($platform->archiveExtension(), '/').'$/';

        foreach (array_keys($this->sums) as $file) {
            if (preg_match($pattern, $file, $m)) {
                return [$file, $m[1]];
            }
        }

        return null;
    }

    /**
     * The platforms this release has archives for ("linux/amd64", ...).
     *
     * @return array<int, string>
     */
    public function platforms(): array
    {
        $platforms = [];

        foreach (array_keys($this->sums) as $file) {
            if (preg_match('/^reverb_.+_([a-z0-9]+)_([a-z0-9]+)\.(?:tar\.gz|zip)$/', $file, $m)) {
                $platforms[] = "{$m[1]}/{$m[2]}";
            }
        }

        return $platforms;
    }
}
