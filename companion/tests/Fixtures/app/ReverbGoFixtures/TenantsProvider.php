<?php

namespace App\ReverbGoFixtures;

use Illuminate\Support\Collection;
use Laravel\Reverb\Application;
use Laravel\Reverb\Contracts\ApplicationProvider;
use Laravel\Reverb\Exceptions\InvalidApplication;
use RuntimeException;

/**
 * A custom application provider, like one reading tenants from a database:
 * the apps are in storage/app/tenants.json, read on every call.
 */
class TenantsProvider implements ApplicationProvider
{
    public function __construct(protected string $file)
    {
        //
    }

    public function all(): Collection
    {
        return collect($this->rows())->map(fn (array $row) => $this->make($row))->values();
    }

    public function findById(string $id): Application
    {
        return $this->find('app_id', $id);
    }

    public function findByKey(string $key): Application
    {
        return $this->find('key', $key);
    }

    protected function find(string $field, string $value): Application
    {
        foreach ($this->rows() as $row) {
            if ((string) $row[$field] === $value) {
                return $this->make($row);
            }
        }

        throw new InvalidApplication;
    }

    /**
     * @return array<int, array<string, mixed>>
     */
    protected function rows(): array
    {
        $data = is_file($this->file) ? json_decode((string) file_get_contents($this->file), true) : [];

        if (isset($data['fail'])) {
            throw new RuntimeException($data['fail']);
        }

        return $data ?? [];
    }

    protected function make(array $row): Application
    {
        return new Application(
            (string) $row['app_id'],
            $row['key'],
            $row['secret'],
            $row['ping_interval'] ?? 60,
            $row['activity_timeout'] ?? 30,
            $row['allowed_origins'] ?? ['*'],
            $row['max_message_size'] ?? 10000,
            $row['max_connections'] ?? null,
            $row['accept_client_events_from'] ?? 'all',
            $row['rate_limiting'] ?? null,
            $row['options'] ?? [],
        );
    }
}
