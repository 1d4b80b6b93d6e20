<?php

namespace ReverbGo\Laravel\Process;

use RuntimeException;

/**
 * Runs the server in place of artisan.
 *
 * Where pcntl_exec is available (Linux and macOS with ext-pcntl, the CLI
 * default) the PHP process is replaced by the server: same pid, same stdio,
 * so supervisor, systemd and Forge signal the server itself and see its exit
 * status. Otherwise (Windows, pcntl disabled, or the "exec" setting off) the
 * server runs as a child with the same stdin/stdout/stderr; SIGTERM, SIGINT,
 * SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 are forwarded to it when pcntl can
 * catch them, and its exit status becomes artisan's; the server stops by
 * itself if artisan is killed (PARENT_PID).
 *
 * Quiet (artisan -q, the server started with --quiet so that it prints only
 * its ERROR lines): the server's standard output is pointed at stderr, so
 * those lines reach stderr and nothing reaches stdout.
 */
class Launcher
{
    /**
     * Signals forwarded to the child in passthrough mode. SIGINT is sent on
     * as SIGTERM: a terminal's Ctrl-C already reaches the whole foreground
     * process group, and a second SIGINT would tell the server to skip its
     * drain.
     */
    protected const FORWARDED = ['SIGTERM' => 'SIGTERM', 'SIGINT' => 'SIGTERM', 'SIGHUP' => 'SIGHUP', 'SIGQUIT' => 'SIGQUIT', 'SIGUSR1' => 'SIGUSR1', 'SIGUSR2' => 'SIGUSR2'];

    /**
     * Names this process to the server it runs as a child: killed outright
     * (Task Manager, taskkill /F, SIGKILL), artisan cannot stop its child,
     * so the server drains and exits by itself once artisan is gone.
     */
    public const PARENT_PID = 'REVERB_GO_PARENT_PID';

    /**
     * Start the server and return its exit status (never returns when exec
     * replaced this process).
     *
     * @param  array<int, string>  $args  arguments after the binary
     * @param  array<string, string>  $env
     */
    public function launch(string $binary, array $args, array $env, string $cwd, bool $quiet = false, bool $exec = true): int
    {
        if (! @chdir($cwd)) {
            throw new RuntimeException("Cannot change to the project directory {$cwd}.");
        }

        if ($exec && static::canExec()) {
            $this->exec($binary, $args, $env, $quiet);
        }

        return $this->passthrough($binary, $args, $env, $cwd, $quiet);
    }

    /**
     * Whether this PHP can replace itself with another program.
     */
    public static function canExec(): bool
    {
        return DIRECTORY_SEPARATOR === '/' && function_exists('pcntl_exec');
    }

    /**
     * Replace this process with the server; returns only by throwing.
     *
     * @param  array<int, string>  $args
     * @param  array<string, string>  $env
     */
    protected function exec(string $binary, array $args, array $env, bool $quiet): never
    {
        if ($quiet) {
            // -q: the server's standard output (its ERROR lines only, as it
            // runs with --quiet) goes to stderr. Closing STDOUT frees
            // descriptor 1, which the next open takes (and exec keeps);
            // php://fd/2 is a dup of stderr, sharing its file offset.
            fclose(STDOUT);
            $stdout = fopen('php://fd/2', 'w');
        }

        @pcntl_exec($binary, $args, $env);
        unset($stdout);

        $error = function_exists('pcntl_get_last_error') ? pcntl_strerror(pcntl_get_last_error()) : 'exec failed';

        throw new RuntimeException("Cannot run {$binary}: {$error}.");
    }

    /**
     * Run the server as a child with this process's stdio.
     *
     * @param  array<int, string>  $args
     * @param  array<string, string>  $env
     */
    protected function passthrough(string $binary, array $args, array $env, string $cwd, bool $quiet): int
    {
        // -q: the server's standard output (its ERROR lines only, as it
        // runs with --quiet) goes to stderr.
        $stdout = $quiet ? STDERR : STDOUT;

        // Handlers first: a signal arriving while the child starts must not
        // kill artisan with the child left behind.
        $process = null;
        $pending = [];
        $this->forwardSignals($process, $pending);

        $process = proc_open(
            array_merge([$binary], $args),
            [0 => STDIN, 1 => $stdout, 2 => STDERR],
            $pipes,
            $cwd,
            [self::PARENT_PID => (string) getmypid()] + $env,
            ['bypass_shell' => true],
        );

        if (! is_resource($process)) {
            throw new RuntimeException("Cannot run {$binary}.");
        }

        foreach ($pending as $signal) {
            proc_terminate($process, $signal);
        }

        do {
            $status = proc_get_status($process);

            if ($status['running']) {
                usleep(100_000); // interrupted by signals, which are handled at once
            }
        } while ($status['running']);

        proc_close($process);

        if ($status['signaled']) {
            return 128 + $status['termsig'];
        }

        return $status['exitcode'];
    }

    /**
     * Forward signals to $process once it is a resource; until then they
     * are kept in $pending.
     *
     * @param  resource|null  $process
     * @param  array<int, int>  $pending
     */
    protected function forwardSignals(&$process, array &$pending): void
    {
        if (function_exists('sapi_windows_set_ctrl_handler')) {
            // Ctrl-C reaches the server through the console too: artisan
            // waits for it to drain and exit.
            sapi_windows_set_ctrl_handler(fn () => null);
        }

        if (! function_exists('pcntl_signal') || ! function_exists('pcntl_async_signals')) {
            return;
        }

        pcntl_async_signals(true);

        foreach (static::FORWARDED as $caught => $sent) {
            if (defined($caught) && defined($sent)) {
                pcntl_signal(constant($caught), function () use (&$process, &$pending, $sent) {
                    is_resource($process) ? proc_terminate($process, constant($sent)) : $pending[] = constant($sent);
                });
            }
        }
    }
}
