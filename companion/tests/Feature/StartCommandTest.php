<?php

namespace ReverbGo\Laravel\Tests\Feature;

use PHPUnit\Framework\TestCase;
use ReverbGo\Laravel\Tests\Artisan;

/**
 * `php artisan reverb:start` in the real app, with a stand-in binary that
 * records how it was started.
 */
class StartCommandTest extends TestCase
{
    private string $dir;

    protected function setUp(): void
    {
        $this->dir = sys_get_temp_dir().'/reverb-go-start-'.bin2hex(random_bytes(6));
        mkdir($this->dir);
        // Records pid, arguments and environment; on SIGTERM notes it and
        // exits 0; otherwise exits with $FAKE_EXIT after $FAKE_SLEEP. With
        // --quiet its stdout has only an ERROR line, as the real binary's.
        file_put_contents($this->dir.'/reverb', <<<'SH'
#!/bin/sh
out="$(dirname "$0")"
trap 'echo TERM >> "$out/signal"; exit 0' TERM
trap 'echo HUP >> "$out/signal"' HUP
for a in "$@"; do printf '%s\n' "$a"; done > "$out/args"
env > "$out/env"
case " $* " in
  *" --quiet "*) printf '\n   ERROR  Something failed.\n' ;;
  *) echo "to stdout" ;;
esac
echo "to stderr" >&2
echo "$$" > "$out/pid"
i=0
while [ "$i" -lt "${FAKE_SLEEP:-0}" ]; do sleep 0.1; i=$((i+1)); done
exit "${FAKE_EXIT:-0}"
SH);
        chmod($this->dir.'/reverb', 0755);
    }

    protected function tearDown(): void
    {
        array_map('unlink', glob($this->dir.'/*'));
        rmdir($this->dir);
    }

    private function env(array $extra = []): array
    {
        return $extra + ['REVERB_GO_BINARY' => $this->dir.'/reverb', 'FAKE_EXIT' => '7', 'RUNTIME_VAR' => 'from-the-shell'];
    }

    private function read(string $file): string
    {
        return (string) @file_get_contents($this->dir.'/'.$file);
    }

    private function envOf(): array
    {
        $vars = [];
        foreach (explode("\n", $this->read('env')) as $line) {
            if (str_contains($line, '=')) {
                [$k, $v] = explode('=', $line, 2);
                $vars[$k] = $v;
            }
        }

        return $vars;
    }

    public function test_it_replaces_the_php_process_with_all_of_reverbs_options(): void
    {
        $artisan = Artisan::start(['reverb:start', '--host=127.0.0.2', '--port=9001', '--path=ws', '--hostname=ws.test', '--debug', '--env=local', '-n', '-v', '--no-ansi'], $this->env());
        [$code, $out, $err] = $artisan->wait();

        $this->assertSame(7, $code, $out.$err);
        $this->assertSame((string) $artisan->pid, trim($this->read('pid')), 'the server runs in the artisan process itself (exec)');
        $this->assertSame(['start', '--dir='.REVERB_GO_TEST_APP, '--env=local', '--host=127.0.0.2', '--port=9001', '--path=ws', '--hostname=ws.test', '--debug'], explode("\n", trim($this->read('args'))));
        $this->assertSame("to stdout\n", $out);
        $this->assertSame("to stderr\n", $err);

        $env = $this->envOf();
        $this->assertSame(PHP_BINARY, $env['REVERB_PHP_BINARY']);
        $this->assertSame('from-the-shell', $env['RUNTIME_VAR']);
        $this->assertSame('1', $env['NO_COLOR']);
        // What Laravel copied from .env stays out: the server reads .env itself.
        $this->assertArrayNotHasKey('REVERB_APP_SECRET', $env);
        $this->assertArrayNotHasKey('APP_KEY', $env);
        $this->assertArrayNotHasKey('SHELL_VERBOSITY', $env);
        $this->assertArrayNotHasKey('REVERB_GO_PARENT_PID', $env, 'exec: the server is artisan, no parent to watch');
    }

    public function test_a_dotenv_file_saved_on_windows_with_a_byte_order_mark_and_crlf_stays_out_too(): void
    {
        $file = REVERB_GO_TEST_APP.'/.env';
        $original = (string) file_get_contents($file);
        file_put_contents($file, "\xEF\xBB\xBF".str_replace("\n", "\r\n", $original));

        try {
            [$code, $out, $err] = Artisan::run(['reverb:start'], $this->env(['FAKE_EXIT' => '0']));
        } finally {
            file_put_contents($file, $original);
        }

        $this->assertSame(0, $code, $out.$err);
        $env = $this->envOf();
        $this->assertSame('from-the-shell', $env['RUNTIME_VAR']);
        $this->assertArrayNotHasKey('APP_NAME', $env, 'the first variable, after the byte order mark');
        $this->assertArrayNotHasKey('REVERB_APP_SECRET', $env);
        $this->assertArrayNotHasKey('APP_KEY', $env);
    }

    public function test_options_not_given_are_left_to_the_config_and_the_real_environment_wins(): void
    {
        [$code] = Artisan::run(['reverb:start', '--port='], $this->env(['FAKE_EXIT' => '0', 'REVERB_APP_ID' => 'set-by-the-shell', 'REVERB_PHP_BINARY' => '/opt/php/bin/php']));

        $this->assertSame(0, $code);
        $this->assertSame(['start', '--dir='.REVERB_GO_TEST_APP], explode("\n", trim($this->read('args'))));
        $env = $this->envOf();
        $this->assertSame('set-by-the-shell', $env['REVERB_APP_ID']);
        $this->assertSame('/opt/php/bin/php', $env['REVERB_PHP_BINARY']);
    }

    public function test_a_provider_bound_to_reverbs_contract_makes_the_server_ask_php_for_the_apps(): void
    {
        [$code] = Artisan::run(['reverb:start'], $this->env(['FAKE_EXIT' => '0']));
        $this->assertSame(0, $code);
        $this->assertArrayNotHasKey('REVERB_GO_APPS_PROVIDER', $this->envOf(), 'the config provider needs no PHP');

        [$code] = Artisan::run(['reverb:start'], $this->env(['FAKE_EXIT' => '0', 'FIXTURE_BIND_APPLICATION_PROVIDER' => '1']));
        $this->assertSame(0, $code);
        $this->assertSame('App\\ReverbGoFixtures\\TenantsProvider', $this->envOf()['REVERB_GO_APPS_PROVIDER'] ?? null);
    }

    public function test_quiet_starts_the_server_quiet_and_sends_its_errors_to_stderr(): void
    {
        foreach (['exec' => [], 'child' => ['REVERB_GO_EXEC' => 'false']] as $mode => $env) {
            [$code, $out, $err] = Artisan::run(['reverb:start', '-q', '--port=9003', '--debug'], $this->env($env));
            $this->assertSame(7, $code, $mode);
            $this->assertSame(['start', '--dir='.REVERB_GO_TEST_APP, '--quiet', '--port=9003'], explode("\n", trim($this->read('args'))), "{$mode}: --debug shows nothing with -q, as in Reverb");
            $this->assertSame('', $out, $mode);
            $this->assertSame("\n   ERROR  Something failed.\nto stderr\n", $err, $mode);
        }
    }

    public function test_quiet_shows_the_real_servers_startup_error_on_stderr(): void
    {
        $binary = getenv('REVERB_BIN') ?: dirname(__DIR__, 3).'/bin/reverb';

        if (! is_executable($binary)) {
            $this->markTestSkipped("no reverb binary at {$binary} (make build, or set REVERB_BIN)");
        }

        $taken = stream_socket_server('tcp://127.0.0.1:0');
        $port = (int) substr(strrchr(stream_socket_get_name($taken, false), ':'), 1);
        $cannotListen = "ERROR  Cannot listen on 127.0.0.1:{$port}";

        try {
            foreach (['exec' => [], 'child' => ['REVERB_GO_EXEC' => 'false']] as $mode => $env) {
                [$code, $out, $err] = Artisan::run(['reverb:start', '-q', '--host=127.0.0.1', "--port={$port}"], ['REVERB_GO_BINARY' => $binary] + $env);
                $this->assertSame(1, $code, "{$mode}: {$out}{$err}");
                $this->assertSame('', $out, $mode);
                $this->assertStringContainsString($cannotListen, $err, $mode);
                $this->assertStringNotContainsString('INFO', $err, $mode);
            }

            // Without -q the error is on stdout, with the rest of the log.
            [$code, $out, $err] = Artisan::run(['reverb:start', '--host=127.0.0.1', "--port={$port}"], ['REVERB_GO_BINARY' => $binary]);
            $this->assertSame(1, $code, $out.$err);
            $this->assertStringContainsString($cannotListen, $out);
            $this->assertSame('', $err);
        } finally {
            fclose($taken);
        }
    }

    public function test_signals_reach_the_server_itself(): void
    {
        $artisan = Artisan::start(['reverb:start'], $this->env(['FAKE_SLEEP' => '600']));
        $this->waitFor('pid');
        $artisan->signal(SIGTERM);
        [$code] = $artisan->wait();

        $this->assertSame(0, $code);
        $this->assertSame("TERM\n", $this->read('signal'));
    }

    public function test_without_exec_it_runs_the_server_as_a_child_forwarding_signals_and_the_exit_status(): void
    {
        [$code, $out, $err] = Artisan::run(['reverb:start', '--port=9002'], $this->env(['REVERB_GO_EXEC' => 'false']));
        $this->assertSame(7, $code);
        $this->assertSame("to stdout\n", $out);
        $this->assertSame("to stderr\n", $err);
        $this->assertSame(['start', '--dir='.REVERB_GO_TEST_APP, '--port=9002'], explode("\n", trim($this->read('args'))));

        unlink($this->dir.'/pid');
        $artisan = Artisan::start(['reverb:start'], $this->env(['REVERB_GO_EXEC' => 'false', 'FAKE_SLEEP' => '600']));
        $this->waitFor('pid');
        $this->assertNotSame((string) $artisan->pid, trim($this->read('pid')));
        $this->assertSame((string) $artisan->pid, $this->envOf()['REVERB_GO_PARENT_PID'] ?? null, 'the child is told which process to stop with');
        $artisan->signal(SIGHUP);
        $this->waitFor('signal');
        $artisan->signal(SIGINT); // forwarded as SIGTERM: Ctrl-C reached the child already
        [$code] = $artisan->wait();

        $this->assertSame(0, $code);
        $this->assertSame("HUP\nTERM\n", $this->read('signal'));
    }

    public function test_a_missing_binary_is_an_error_that_says_how_to_get_it(): void
    {
        [$code, $out] = Artisan::run(['reverb:start', '--no-ansi'], ['REVERB_GO_BINARY' => $this->dir.'/nothing-here']);
        $this->assertSame(1, $code);
        $this->assertStringContainsString('The reverb binary is not installed at '.$this->dir.'/nothing-here', $out);
        $this->assertStringContainsString('php artisan reverb:binary', $out);

        chmod($this->dir.'/reverb', 0644);
        [$code, $out] = Artisan::run(['reverb:start', '--no-ansi'], $this->env());
        $this->assertSame(1, $code);
        $this->assertStringContainsString('is not executable: chmod +x', $out);
    }

    private function waitFor(string $file): void
    {
        $deadline = microtime(true) + 30;
        while (clearstatcache() || ! is_file($this->dir.'/'.$file) || filesize($this->dir.'/'.$file) === 0) {
            if (microtime(true) > $deadline) {
                $this->fail("{$file} never appeared");
            }
            usleep(20_000);
        }
    }
}
