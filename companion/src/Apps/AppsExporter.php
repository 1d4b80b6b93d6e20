<?php

namespace ReverbGo\Laravel\Apps;

use Illuminate\Contracts\Config\Repository as Config;
use Illuminate\Contracts\Container\Container;
use Laravel\Reverb\Application;
use Laravel\Reverb\ConfigApplicationProvider;
use Laravel\Reverb\Contracts\ApplicationProvider;

/**
 * The apps of the app's own Reverb application provider, as arrays shaped
 * like entries of reverb.apps.apps: what the reverb server reads from
 * `php artisan reverb:apps --json`.
 *
 * The provider is the one Reverb's server resolves: the container's
 * ApplicationProvider, which is the ApplicationManager's driver
 * (reverb.apps.provider) unless the app bound its own provider to the
 * contract.
 */
class AppsExporter
{
    public function __construct(protected Config $config, protected Container $container)
    {
        //
    }

    /**
     * The provider Reverb's server would use (resolved on each call: a
     * provider that cannot be made fails inside reverb:apps' own handling).
     */
    public function provider(): ApplicationProvider
    {
        return $this->container->make(ApplicationProvider::class);
    }

    /**
     * The class of a provider bound to Reverb's contract in place of the one
     * reverb.apps.provider names ("config"), or null. The reverb server
     * reads that setting, so reverb:start tells it to ask PHP for the apps.
     */
    public function boundProviderClass(): ?string
    {
        if ($this->providerSetting() !== 'config') {
            return null; // the server asks PHP already
        }

        $provider = $this->provider();

        return $provider instanceof ConfigApplicationProvider ? null : get_class($provider);
    }

    /**
     * reverb.apps.provider, as ApplicationManager::getDefaultDriver() reads
     * it. Read here rather than from the manager: making the manager loads
     * Reverb's deferred service provider, which binds the contract again
     * and would drop an instance the app bound to it.
     */
    protected function providerSetting(): string
    {
        return (string) $this->config->get('reverb.apps.provider', 'config');
    }

    /**
     * @return array<int, array<string, mixed>>
     */
    public function export(): array
    {
        $provider = $this->provider();
        $raw = $provider instanceof ConfigApplicationProvider ? $this->configEntries() : [];

        return $provider->all()
            ->map(fn (Application $app) => $this->toArray($app, $raw[$app->id()] ?? []))
            ->values()
            ->all();
    }

    /**
     * One app: the keys of its reverb.apps.apps entry when it has one (other
     * settings such as webhooks live there), then its toArray() (a custom
     * Application class may add keys there), then what the Application
     * object says for every setting the server uses.
     *
     * @param  array<string, mixed>  $entry
     * @return array<string, mixed>
     */
    public function toArray(Application $app, array $entry = []): array
    {
        $array = array_merge($entry, $app->toArray(), [
            'app_id' => $app->id(),
            'key' => $app->key(),
            'secret' => $app->secret(),
            'ping_interval' => $app->pingInterval(),
            'activity_timeout' => $app->activityTimeout(),
            'allowed_origins' => $app->allowedOrigins(),
            'max_message_size' => $app->maxMessageSize(),
            'max_connections' => $app->maxConnections(),
        ]);

        // Older Reverb 1.x releases lack these two.
        if (method_exists($app, 'acceptClientEventsFrom')) {
            $array['accept_client_events_from'] = $app->acceptClientEventsFrom();
        }

        if (method_exists($app, 'rateLimiting')) {
            $array['rate_limiting'] = $app->rateLimiting();
        }

        $array['options'] = $app->options() ?? [];

        return $array;
    }

    /**
     * The reverb.apps.apps entries by app_id (the config provider is the one
     * in use).
     *
     * @return array<string, array<string, mixed>>
     */
    protected function configEntries(): array
    {
        if ($this->providerSetting() !== 'config') {
            return [];
        }

        $entries = [];

        foreach ((array) $this->config->get('reverb.apps.apps', []) as $entry) {
            if (is_array($entry) && isset($entry['app_id'])) {
                $entries[(string) $entry['app_id']] ??= $entry;
            }
        }

        return $entries;
    }

    /**
     * The JSON document of reverb:apps --json.
     *
     * @param  array<int, array<string, mixed>>  $apps
     */
    public static function json(array $apps): string
    {
        foreach ($apps as $i => $app) {
            // An empty options array is an object, as in config.
            if (($app['options'] ?? null) === []) {
                $apps[$i]['options'] = new \stdClass;
            }
        }

        return json_encode(['apps' => $apps], JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION | JSON_THROW_ON_ERROR);
    }
}
