<?php
// Reads Pulse's ingest stream like `php artisan pulse:work` does (XRANGE,
// unserialize with only Pulse's classes allowed) and prints what each entry
// unserialized to, as JSON. Args: redis port, stream key.

namespace Laravel\Pulse;

// The shape of Laravel\Pulse\Entry (Pulse 1.x): two declared protected
// properties, then the constructor-promoted public ones.
class Entry
{
    protected array $aggregations = [];

    protected bool $onlyBuckets = false;

    public function __construct(
        public int $timestamp,
        public string $type,
        public string $key,
        public ?int $value = null,
    ) {
    }

    public function aggregations(): array
    {
        return $this->aggregations;
    }

    public function isOnlyBuckets(): bool
    {
        return $this->onlyBuckets;
    }
}

class Value
{
}

$redis = new \Redis();
$redis->connect('127.0.0.1', (int) $argv[1]);
$out = [];
foreach ($redis->xRange($argv[2], '-', '+') as $fields) {
    $entry = unserialize($fields['data'], ['allowed_classes' => [Entry::class, Value::class]]);
    if (! $entry instanceof Entry) {
        fwrite(STDERR, 'not an Entry: '.var_export($entry, true)."\n");
        exit(1);
    }
    $out[] = [
        'class' => get_class($entry),
        'type' => $entry->type,
        'key' => $entry->key,
        'timestamp' => $entry->timestamp,
        'value' => $entry->value,
        'aggregations' => $entry->aggregations(),
        'only_buckets' => $entry->isOnlyBuckets(),
    ];
}
echo json_encode($out);
