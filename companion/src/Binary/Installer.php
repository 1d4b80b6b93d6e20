<?php

namespace ReverbGo\Laravel\Binary;

use FilesystemIterator;
use Illuminate\Http\Client\ConnectionException;
use Illuminate\Http\Client\Factory as Http;
use PharData;
use RecursiveDirectoryIterator;
use RecursiveIteratorIterator;
use ReverbGo\Laravel\Binary;
use Throwable;
use ZipArchive;

/**
 * Downloads a release archive for this platform, checks it against the
 * release's SHA256SUMS, unpacks the binary and puts it in place atomically
 * (a temporary file in the same folder, made executable, then renamed over
 * the old one: a running server keeps its open file and nobody ever sees a
 * half-written binary).
 *
 * Releases are laid out as on GitHub: {url}/download/v{version}/{file} and
 * {url}/latest/download/{file}. A file:// URL or a local folder with that
 * layout works too (an offline mirror).
 */
class Installer
{
    public function __construct(
        protected Http $http,
        protected string $releasesUrl,
        protected int $timeout = 300,
    ) {
        //
    }

    /**
     * Find the archive of $version ("latest", "1.2.3" or "v1.2.3") for the
     * platform.
     */
    public function resolve(string $version, Platform $platform): Release
    {
        $version = ltrim(trim($version), 'v');
        $latest = $version === '' || $version === 'latest';
        $sumsUrl = $latest
            ? $this->url('latest/download/SHA256SUMS')
            : $this->url('download/v'.$version.'/SHA256SUMS');

        $sums = Checksums::parse($this->get($sumsUrl, $latest ? 'the latest release' : "release v{$version}"));

        if ($sums->sums === []) {
            throw new InstallFailed("{$sumsUrl} lists no files: it is not a SHA256SUMS file.");
        }

        if ($latest) {
            $found = $sums->findArchive($platform);
            [$file, $version] = $found ?? [null, null];
        } else {
            $file = $platform->archiveName($version);
            $file = $sums->for($file) !== null ? $file : null;
        }

        if ($file === null) {
            $has = $sums->platforms();

            throw new InstallFailed(sprintf(
                'The %s has no archive for this machine (%s)%s. Build reverb from source for it (see install.sh) and set REVERB_GO_BINARY to the binary.',
                $latest ? 'latest release' : "release v{$version}",
                $platform,
                $has === [] ? '' : ': it has '.implode(', ', $has),
            ));
        }

        return new Release($version, $platform, $file, $sums->for($file), $this->url('download/v'.$version.'/'.$file));
    }

    /**
     * Install the release at $binary's path. Returns false when that version
     * is installed already (and $force is off).
     */
    public function install(Release $release, Binary $binary, bool $force = false): bool
    {
        if (! $force && $binary->installedVersion() === $release->version) {
            return false;
        }

        $target = $binary->path();
        $dir = dirname($target);

        if (! is_dir($dir) && ! @mkdir($dir, 0755, true) && ! is_dir($dir)) {
            throw new InstallFailed("Cannot create the folder {$dir}.");
        }

        if (! is_writable($dir)) {
            throw new InstallFailed("Cannot write to {$dir}: run reverb:binary as the user that owns it.");
        }

        $work = $dir.DIRECTORY_SEPARATOR.'.reverb-download-'.bin2hex(random_bytes(6));
        @mkdir($work, 0700);

        try {
            $archive = $work.DIRECTORY_SEPARATOR.$release->file;
            $this->download($release->url, $archive);

            $actual = hash_file('sha256', $archive);

            if (! hash_equals($release->sha256, $actual)) {
                throw new InstallFailed("Checksum mismatch for {$release->file}: SHA256SUMS says {$release->sha256}, the download is {$actual}. Nothing was installed; try again, or check {$this->releasesUrl}.");
            }

            $extracted = $this->extract($archive, $release->platform->binaryName(), $work);

            // The target's extension stays last (.reverb.new-1a2b3c4d.exe): Windows
            // tells an executable by its extension, so the check below can run it.
            $extension = pathinfo($target, PATHINFO_EXTENSION);
            $temporary = $dir.DIRECTORY_SEPARATOR.'.'.pathinfo($target, PATHINFO_FILENAME).'.new-'.bin2hex(random_bytes(4)).($extension === '' ? '' : '.'.$extension);

            if (! @rename($extracted, $temporary) && ! @copy($extracted, $temporary)) {
                throw new InstallFailed("Cannot write {$temporary}.");
            }

            @chmod($temporary, 0755);

            try {
                $this->check($temporary, $release);

                if (! @rename($temporary, $target)) {
                    throw new InstallFailed("Cannot replace {$target}".(DIRECTORY_SEPARATOR === '\\' ? ' (is the server running? Stop it first on Windows).' : '.'));
                }
            } finally {
                @unlink($temporary);
            }
        } finally {
            $this->remove($work);
        }

        return true;
    }

    /**
     * The new binary must run here and report the release's version.
     */
    protected function check(string $path, Release $release): void
    {
        $reported = (new Binary($path, dirname($path)))->installedVersion();

        if ($reported === null) {
            throw new InstallFailed("The binary in {$release->file} does not run on this machine ({$release->platform}) or does not print its version with --version. Nothing was installed.");
        }

        if ($reported !== $release->version) {
            throw new InstallFailed("The binary in {$release->file} reports version {$reported}, not {$release->version}. Nothing was installed.");
        }
    }

    /**
     * Fetch a small text file.
     */
    protected function get(string $url, string $what): string
    {
        if ($local = $this->localPath($url)) {
            if (! is_file($local)) {
                throw new InstallFailed("Not found: {$url} (is {$what} published there?).");
            }

            return (string) file_get_contents($local);
        }

        try {
            $response = $this->http->timeout(60)->get($url);
        } catch (ConnectionException $e) {
            throw new InstallFailed("Cannot reach {$url}: ".rtrim($e->getMessage(), '.').'. Behind a proxy, set HTTPS_PROXY. '
                .'Without network access, set REVERB_GO_RELEASES_URL to a mirror laid out as the releases are (download/v1.2.3/, latest/download/; file:///path/to/mirror works), '
                .'or REVERB_GO_BINARY to a reverb binary you already have.');
        }

        if ($response->status() === 404) {
            throw new InstallFailed("Not found: {$url} (404). Is {$what} published there? Releases: {$this->releasesUrl}");
        }

        if (! $response->successful()) {
            throw new InstallFailed("{$url} answered HTTP {$response->status()}.");
        }

        return $response->body();
    }

    /**
     * Download a file to $path.
     */
    protected function download(string $url, string $path): void
    {
        if ($local = $this->localPath($url)) {
            if (! is_file($local) || ! @copy($local, $path)) {
                throw new InstallFailed("Not found: {$url}.");
            }

            return;
        }

        try {
            $response = $this->http->timeout($this->timeout)->withOptions(['sink' => $path])->get($url);
        } catch (ConnectionException $e) {
            throw new InstallFailed("Cannot download {$url}: {$e->getMessage()}");
        }

        if ($response->status() === 404) {
            throw new InstallFailed("Not found: {$url} (404), although SHA256SUMS lists it.");
        }

        if (! $response->successful()) {
            throw new InstallFailed("Downloading {$url} failed: HTTP {$response->status()}.");
        }
    }

    /**
     * Unpack $name from the archive into $work and return its path.
     */
    protected function extract(string $archive, string $name, string $work): string
    {
        $out = $work.DIRECTORY_SEPARATOR.'unpacked';
        @mkdir($out, 0700);

        $errors = [];

        foreach ($this->extractors($archive) as $label => $extract) {
            try {
                $extract($archive, $out);

                if ($found = $this->findFile($out, $name)) {
                    return $found;
                }

                $errors[] = "{$label}: no {$name} in the archive";
            } catch (Throwable $e) {
                $errors[] = "{$label}: {$e->getMessage()}";
            }
        }

        throw new InstallFailed('Cannot unpack '.basename($archive).': '.implode('; ', $errors).'.');
    }

    /**
     * Ways to unpack an archive, best first.
     *
     * @return array<string, callable(string, string): void>
     */
    protected function extractors(string $archive): array
    {
        $tar = function (string $archive, string $out, string $flags) {
            $process = proc_open(['tar', $flags, $archive, '-C', $out], [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);

            if (! is_resource($process)) {
                throw new InstallFailed('tar is not available');
            }

            stream_get_contents($pipes[1]);
            $err = trim((string) stream_get_contents($pipes[2]));
            fclose($pipes[1]);
            fclose($pipes[2]);

            if (($code = proc_close($process)) !== 0) {
                throw new InstallFailed("tar exited with {$code}".($err !== '' ? ": {$err}" : ''));
            }
        };

        if (str_ends_with($archive, '.zip')) {
            $ways = [];

            if (class_exists(ZipArchive::class)) {
                $ways['ZipArchive'] = function (string $archive, string $out) {
                    $zip = new ZipArchive;

                    if (($code = $zip->open($archive)) !== true) {
                        throw new InstallFailed("not a zip archive (error {$code})");
                    }

                    $ok = $zip->extractTo($out);
                    $zip->close();

                    if (! $ok) {
                        throw new InstallFailed('extraction failed');
                    }
                };
            }

            // bsdtar (Windows 10+, macOS) reads zip archives too.
            $ways['tar'] = fn (string $archive, string $out) => $tar($archive, $out, '-xf');

            return $ways;
        }

        return [
            'PharData' => function (string $archive, string $out) {
                (new PharData($archive))->extractTo($out, null, true);
            },
            'tar' => fn (string $archive, string $out) => $tar($archive, $out, '-xzf'),
        ];
    }

    /**
     * The file called $name at the root of $dir or one folder down.
     */
    protected function findFile(string $dir, string $name): ?string
    {
        if (is_file($dir.DIRECTORY_SEPARATOR.$name)) {
            return $dir.DIRECTORY_SEPARATOR.$name;
        }

        foreach (new FilesystemIterator($dir) as $entry) {
            if ($entry->isDir() && is_file($entry->getPathname().DIRECTORY_SEPARATOR.$name)) {
                return $entry->getPathname().DIRECTORY_SEPARATOR.$name;
            }
        }

        return null;
    }

    protected function url(string $path): string
    {
        return rtrim($this->releasesUrl, '/').'/'.$path;
    }

    /**
     * The local path of a file:// URL or a plain folder, or null for HTTP(S).
     */
    protected function localPath(string $url): ?string
    {
        if (str_starts_with($url, 'file://')) {
            return rawurldecode(substr($url, 7));
        }

        return preg_match('#^[a-z][a-z0-9+.-]*://#i', $url) ? null : $url;
    }

    protected function remove(string $path): void
    {
        if (! is_dir($path)) {
            @unlink($path);

            return;
        }

        $items = new RecursiveIteratorIterator(
            new RecursiveDirectoryIterator($path, FilesystemIterator::SKIP_DOTS),
            RecursiveIteratorIterator::CHILD_FIRST,
        );

        foreach ($items as $item) {
            $item->isDir() && ! $item->isLink() ? @rmdir($item->getPathname()) : @unlink($item->getPathname());
        }

        @rmdir($path);
    }
}
