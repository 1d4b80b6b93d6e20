<?php

namespace ReverbGo\Laravel\Binary;

/**
 * One archive of one release, ready to download.
 */
final class Release
{
    public function __construct(
        public readonly string $version,
        public readonly Platform $platform,
        public readonly string $file,
        public readonly string $sha256,
        public readonly string $url,
    ) {
        //
    }
}
