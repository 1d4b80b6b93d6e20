<?php

namespace ReverbGo\Laravel\Tests\Feature;

use Laravel\Reverb\Application;
use ReverbGo\Laravel\Apps\AppsExporter;
use ReverbGo\Laravel\Tests\Artisan;
use ReverbGo\Laravel\Tests\TestCase;

/**
 * `php artisan reverb:apps --json`: what the app's own ApplicationManager
 * returns, in the shape of reverb.apps.apps entries.
 */
class AppsCommandTest extends TestCase
{
    private string $tenants;

    protected function setUp(): void
    {
        parent::setUp();
        $this->tenants = REVERB_GO_TEST_APP.'/storage/app/tenants.json';
        $this->cleanups[] = fn () => @unlink($this->tenants);
    }

    public function test_the_config_provider_apps_with_every_key(): void
    {
        [$code, $out, $err] = Artisan::run(['reverb:apps', '--json']);

        $this->assertSame(0, $code, $err);
        $this->assertSame('', $err);
        $this->assertStringEndsWith("}\n", $out);
        $this->assertSame(1, substr_count($out, "\n"), 'exactly one line of JSON');
        $apps = json_decode($out, true, 512, JSON_THROW_ON_ERROR)['apps'];
        $this->assertCount(1, $apps);
        $app = $apps[0];
        foreach ([
            'app_id' => '473820', 'key' => 'w1mhnp0sxbeqkdfnrh2l', 'secret' => 'yrdv5qzxhjpc1y0wqn7k',
            'ping_interval' => 60, 'activity_timeout' => 30, 'allowed_origins' => ['*'], 'max_message_size' => 10000,
            'max_connections' => null,
        ] as $k => $v) {
            $this->assertSame($v, $app[$k], $k);
        }
        $this->assertSame('localhost', $app['options']['host']);
        $this->assertArrayHasKey('accept_client_events_from', $app);
        $this->assertArrayHasKey('rate_limiting', $app);
    }

    public function test_a_custom_provider_and_quiet_mode(): void
    {
        file_put_contents($this->tenants, json_encode([
            ['app_id' => 1001, 'key' => 'acme-key', 'secret' => 'acme-secret', 'allowed_origins' => ['acme.test'], 'max_connections' => 50, 'accept_client_events_from' => 'members', 'rate_limiting' => ['enabled' => true, 'max_attempts' => 5, 'decay_seconds' => 1]],
            ['app_id' => '1002', 'key' => 'globex-key', 'secret' => 'globex-secret', 'options' => ['host' => 'ws.globex.test']],
        ]));

        [$code, $out, $err] = Artisan::run(['reverb:apps', '--json', '-q', '--no-ansi'], ['FIXTURE_REVERB_APPS_PROVIDER' => 'tenants']);

        $this->assertSame(0, $code, $err);
        $apps = json_decode($out, true, 512, JSON_THROW_ON_ERROR)['apps'];
        $this->assertSame(['1001', '1002'], array_column($apps, 'app_id'));
        $this->assertSame(50, $apps[0]['max_connections']);
        $this->assertSame(['acme.test'], $apps[0]['allowed_origins']);
        $this->assertSame('members', $apps[0]['accept_client_events_from']);
        $this->assertSame(['enabled' => true, 'max_attempts' => 5, 'decay_seconds' => 1], $apps[0]['rate_limiting']);
        $this->assertStringContainsString('"options":{}', $out, 'empty options are an object');
        $this->assertSame('ws.globex.test', $apps[1]['options']['host']);

        // For people: a table without secrets.
        [$code, $out] = Artisan::run(['reverb:apps', '--no-ansi'], ['FIXTURE_REVERB_APPS_PROVIDER' => 'tenants']);
        $this->assertSame(0, $code);
        $this->assertStringContainsString('acme-key', $out);
        $this->assertStringNotContainsString('acme-secret', $out);
    }

    public function test_a_provider_bound_to_reverbs_contract_is_the_one_listed(): void
    {
        file_put_contents($this->tenants, json_encode([['app_id' => 1001, 'key' => 'acme-key', 'secret' => 'acme-secret']]));

        [$code, $out, $err] = Artisan::run(['reverb:apps', '--json'], ['FIXTURE_BIND_APPLICATION_PROVIDER' => '1']);

        $this->assertSame(0, $code, $err);
        $apps = json_decode($out, true, 512, JSON_THROW_ON_ERROR)['apps'];
        $this->assertSame(['1001'], array_column($apps, 'app_id'), 'the apps Reverb\'s server would serve, not config/reverb.php\'s');
        $this->assertArrayNotHasKey('host', $apps[0]['options'], 'no keys of the config entry');
    }

    public function test_a_failing_provider_says_so_on_stderr_and_exits_1(): void
    {
        file_put_contents($this->tenants, json_encode(['fail' => 'SQLSTATE[HY000] [2002] Connection refused']));

        [$code, $out, $err] = Artisan::run(['reverb:apps', '--json'], ['FIXTURE_REVERB_APPS_PROVIDER' => 'tenants']);

        $this->assertSame(1, $code);
        $this->assertSame('', $out);
        $this->assertStringContainsString('reverb:apps: the application provider failed: RuntimeException: SQLSTATE[HY000] [2002] Connection refused', $err);
    }

    public function test_extra_keys_of_the_config_entry_and_of_to_array_are_kept(): void
    {
        $this->app['config']->set('reverb.apps.apps.0.webhooks', [['url' => 'https://example.test/hook']]);
        $exporter = $this->app->make(AppsExporter::class);
        $apps = $exporter->export();
        $this->assertSame([['url' => 'https://example.test/hook']], $apps[0]['webhooks']);

        $custom = new class('1', 'k', 's', 60, 30, ['*'], 100) extends Application
        {
            public function toArray(): array
            {
                return parent::toArray() + ['listeners' => ['events' => ['message_received']]];
            }
        };
        $array = $exporter->toArray($custom);
        $this->assertSame(['events' => ['message_received']], $array['listeners']);
        $this->assertSame('1', $array['app_id']);
        $this->assertNull($array['max_connections']);
    }
}
