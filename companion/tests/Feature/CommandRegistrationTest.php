<?php

namespace ReverbGo\Laravel\Tests\Feature;

use PHPUnit\Framework\TestCase;
use ReverbGo\Laravel\Tests\Artisan;

/**
 * Both this package and Laravel Reverb register reverb:start; after
 * `composer require` (auto-discovery, no other step) ours runs, Reverb's
 * other commands stay, and a setting gives reverb:start back to Reverb.
 */
class CommandRegistrationTest extends TestCase
{
    public function test_reverb_start_is_ours_and_reverbs_other_commands_stay(): void
    {
        [$code, $out] = Artisan::run(['list', 'reverb', '--no-ansi']);
        $this->assertSame(0, $code);
        $this->assertMatchesRegularExpression('/reverb:start\s+Start the Reverb server \(the reverb binary\)/', $out);
        $this->assertMatchesRegularExpression('/reverb:restart\s+Restart the Reverb server/', $out);
        $this->assertMatchesRegularExpression('/reverb:install\s+Install the Reverb dependencies/', $out);
        $this->assertMatchesRegularExpression('/reverb:binary\s+/', $out);
        $this->assertMatchesRegularExpression('/reverb:apps\s+/', $out);

        [, $help] = Artisan::run(['reverb:start', '--help', '--no-ansi']);
        foreach (['--host', '--port', '--path', '--hostname', '--debug', '--env', '--quiet', '--no-interaction', '--verbose', '--ansi'] as $option) {
            $this->assertStringContainsString($option, $help);
        }
    }

    public function test_the_server_setting_gives_reverb_start_back_to_php_reverb(): void
    {
        [$code, $out] = Artisan::run(['list', 'reverb', '--no-ansi'], ['REVERB_GO_SERVER' => 'php']);
        $this->assertSame(0, $code);
        $this->assertMatchesRegularExpression('/reverb:start\s+Start the Reverb server\n/', $out);

        // PHP Reverb itself starts (and fails on a port that is taken).
        $socket = stream_socket_server('tcp://127.0.0.1:0');
        $port = (int) substr(strrchr(stream_socket_get_name($socket, false), ':'), 1);
        [$code, $out, $err] = Artisan::run(['reverb:start', '--host=127.0.0.1', '--port='.$port, '--no-ansi'], ['REVERB_GO_SERVER' => 'php', 'REVERB_GO_BINARY' => '/nonexistent']);
        fclose($socket);
        $this->assertNotSame(0, $code);
        $this->assertStringNotContainsString('reverb binary', $out.$err);
        $this->assertStringContainsString('Address already in use', $out.$err);
    }

    public function test_reverb_restart_still_writes_reverbs_flag(): void
    {
        [$code, $out] = Artisan::run(['reverb:restart', '--no-ansi']);
        $this->assertSame(0, $code);
        $this->assertStringContainsString('Broadcasting Reverb restart signal.', $out);
    }

    public function test_the_events_path_is_a_setting(): void
    {
        [$code, $out] = Artisan::run(['route:list', '--json', '--path=hooks'], ['REVERB_GO_EVENTS_PATH' => 'hooks/reverb']);
        $this->assertSame(0, $code);
        $routes = json_decode($out, true);
        $this->assertSame('hooks/reverb', $routes[0]['uri']);
        $this->assertSame('POST', $routes[0]['method']);

        [$code, $out] = Artisan::run(['route:list', '--json', '--path=reverb-go'], ['REVERB_GO_EVENTS' => 'false']);
        $this->assertStringNotContainsString('reverb-go/events', $out);
    }
}
