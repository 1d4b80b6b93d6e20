<?php

namespace ReverbGo\Laravel;

/**
 * Where the reverb binary lives for this project.
 */
class Binary
{
    /**
     * @param  string  $configured  the "binary" setting: absolute, or relative to the project root
     */
    public function __construct(protected string $configured, protected string $basePath)
    {
        //
    }

    /**
     * The binary's file name on this OS.
     */
    public static function defaultName(?string $osFamily = null): string
    {
        return ($osFamily ?? PHP_OS_FAMILY) === 'Windows' ? 'reverb.exe' : 'reverb';
    }

    /**
     * The absolute path of the binary.
     */
    public function path(): string
    {
        $path = $this->configured;

        if (static::isAbsolute($path)) {
            return $path;
        }

        return rtrim($this->basePath, '/\\').DIRECTORY_SEPARATOR.$path;
    }

    /**
     * The path relative to the project root when it is inside it (for messages).
     */
    public function displayPath(): string
    {
        $path = $this->path();
        $base = rtrim($this->basePath, '/\\').DIRECTORY_SEPARATOR;

        return str_starts_with($path, $base) ? '.'.DIRECTORY_SEPARATOR.substr($path, strlen($base)) : $path;
    }

    /**
     * Whether an executable binary is there.
     */
    public function exists(): bool
    {
        return is_file($this->path());
    }

    /**
     * The version the installed binary reports (`reverb --version`), or
     * null when it does not run, fails, or takes longer than $timeout seconds.
     */
    public function installedVersion(float $timeout = 10): ?string
    {
        if (! $this->exists() || ! is_executable($this->path())) {
            return null;
        }

        $process = @proc_open([$this->path(), '--version'], [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);

        if (! is_resource($process)) {
            return null;
        }

        fclose($pipes[0]);
        stream_set_blocking($pipes[1], false);
        stream_set_blocking($pipes[2], false);
        $out = '';
        $deadline = microtime(true) + $timeout;

        do {
            $out .= (string) stream_get_contents($pipes[1]);
            stream_get_contents($pipes[2]); // drained so it never blocks the binary
            $status = proc_get_status($process);

            if ($status['running']) {
                if (microtime(true) > $deadline) {
                    proc_terminate($process, 9);
                    fclose($pipes[1]);
                    fclose($pipes[2]);
                    proc_close($process);

                    return null;
                }

                usleep(10_000);
            }
        } while ($status['running']);

        $out .= (string) stream_get_contents($pipes[1]);
        fclose($pipes[1]);
        fclose($pipes[2]);
        proc_close($process);

        return $status['exitcode'] === 0 ? static::parseVersion($out) : null;
    }

    /**
     * The version in the first line of `reverb --version` ("reverb v1.2.3",
     * "reverb v1.3.0-rc.1"); null for a development build ("reverb dev").
     */
    public static function parseVersion(string $output): ?string
    {
        $first = strtok(ltrim($output), "\n");

        if (is_string($first) && preg_match('/\bv?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)/', $first, $m)) {
            return $m[1];
        }

        return null;
    }

    protected static function isAbsolute(string $path): bool
    {
        return str_starts_with($path, '/') || str_starts_with($path, '\\')
            || (bool) preg_match('/^[A-Za-z]:[\/\\\\]/', $path);
    }
}
