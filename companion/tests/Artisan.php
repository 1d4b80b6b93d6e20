<?php

namespace ReverbGo\Laravel\Tests;

use RuntimeException;

/**
 * `php artisan ...` in the test app, as a real separate process.
 */
final class Artisan
{
    /** @var resource */
    public $process;

    /** @var array<int, resource> */
    public array $pipes = [];

    public int $pid;

    /**
     * @param  array<int, string>  $args
     * @param  array<string, string|false>  $env  changes to the test run's environment (false removes)
     */
    public static function start(array $args, array $env = []): self
    {
        $environment = REVERB_GO_TEST_ENV;

        foreach ($env as $name => $value) {
            if ($value === false) {
                unset($environment[$name]);
            } else {
                $environment[$name] = $value;
            }
        }

        $self = new self;
        $self->process = proc_open(
            [PHP_BINARY, 'artisan', ...$args],
            [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']],
            $self->pipes,
            REVERB_GO_TEST_APP,
            $environment,
        );

        if (! is_resource($self->process)) {
            throw new RuntimeException('Cannot run artisan');
        }

        fclose($self->pipes[0]);
        $self->pid = proc_get_status($self->process)['pid'];

        return $self;
    }

    /**
     * Run to completion: [exit status, stdout, stderr].
     *
     * @param  array<int, string>  $args
     * @param  array<string, string|false>  $env
     * @return array{0: int, 1: string, 2: string}
     */
    public static function run(array $args, array $env = []): array
    {
        return static::start($args, $env)->wait();
    }

    /**
     * @return array{0: int, 1: string, 2: string}
     */
    public function wait(float $timeout = 60): array
    {
        $out = $err = '';
        $deadline = microtime(true) + $timeout;
        stream_set_blocking($this->pipes[1], false);
        stream_set_blocking($this->pipes[2], false);

        while (true) {
            $out .= stream_get_contents($this->pipes[1]);
            $err .= stream_get_contents($this->pipes[2]);
            $status = proc_get_status($this->process);

            if (! $status['running']) {
                break;
            }

            if (microtime(true) > $deadline) {
                proc_terminate($this->process, 9);
                throw new RuntimeException("artisan did not exit within {$timeout}s:\n{$out}\n{$err}");
            }

            usleep(20_000);
        }

        $out .= stream_get_contents($this->pipes[1]);
        $err .= stream_get_contents($this->pipes[2]);
        fclose($this->pipes[1]);
        fclose($this->pipes[2]);
        proc_close($this->process);

        return [$status['signaled'] ? 128 + $status['termsig'] : $status['exitcode'], $out, $err];
    }

    public function signal(int $signal): void
    {
        posix_kill($this->pid, $signal);
    }
}
