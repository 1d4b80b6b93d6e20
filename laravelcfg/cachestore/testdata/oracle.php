<?php
// Test oracle: Laravel's own cache store classes (Debian php-illuminate-cache
// 8.83) write or read the restart flag, so the Go store can be compared with
// the bytes and values Laravel itself produces.
//
// Usage: php oracle.php '<json>' where json is
//   {"op": "write"|"read", "store": "file"|"database"|"redis"|"memcached",
//    "key": "...", "value": 1732200000, "prefix": "...",
//    "dir": "...",                                     (file)
//    "sqlite": "/abs/db.sqlite", "table": "cache",     (database)
//    "host": "127.0.0.1", "port": 6379, "db": 1, "redis_prefix": "...",
//    "username": "...", "password": "...",             (redis, optional)
//    "scheme": "tls", "context": {"stream": {...}},    (redis TLS, optional)
//    "serializer": 1                                   (redis, Redis::SERIALIZER_*, optional)
//    "nodes": [["127.0.0.1", 7000], ...]               (redis_cluster: phpredis RedisCluster seeds;
//                                                        "password", "redis_prefix" as for redis)
//    "sentinels": ["tcp://127.0.0.1:26379", ...],       (redis_sentinel: predis replication
//    "service": "mymaster"                               sentinel; "password", "db", "redis_prefix")
//    "host": "127.0.0.1", "port": 11211,               (memcached)
//    "servers": [["127.0.0.1", 11211], ...]            (memcached, several)}
// "write" calls $store->forever($key, $value); "read" prints
// json_encode(['type' => gettype($v), 'value' => $v]) of $store->get($key).
//
// The 8.83 Redis and Memcached stores append ':' to a non-empty prefix (the
// Laravel <= 10 layout). For the Laravel 11+ layout the caller passes an
// empty prefix and the full key, as the spec's §6 workaround says.

require 'Illuminate/autoload.php';

use Illuminate\Cache\DatabaseStore;
use Illuminate\Cache\FileStore;
use Illuminate\Cache\MemcachedConnector;
use Illuminate\Cache\MemcachedStore;
use Illuminate\Cache\RedisStore;
use Illuminate\Container\Container;
use Illuminate\Database\Capsule\Manager as Capsule;
use Illuminate\Filesystem\Filesystem;
use Illuminate\Redis\RedisManager;

error_reporting(E_ALL);
set_error_handler(function ($no, $str, $file, $line) {
    // Debian's predis 1.1 predates PHP 8.2's deprecations; they change
    // nothing it stores.
    if ($no === E_DEPRECATED && str_contains($file, '/Predis/')) {
        return true;
    }
    throw new ErrorException($str, 0, $no, $file, $line);
});

$args = json_decode($argv[1] ?? '', true);
if (! is_array($args)) {
    fwrite(STDERR, "oracle.php: expected a JSON argument\n");
    exit(2);
}

switch ($args['store']) {
    case 'file':
        $store = new FileStore(new Filesystem, $args['dir']);
        break;
    case 'database':
        $capsule = new Capsule;
        $capsule->addConnection(['driver' => 'sqlite', 'database' => $args['sqlite'], 'prefix' => '']);
        $store = new DatabaseStore($capsule->getConnection(), $args['table'] ?? 'cache', $args['prefix']);
        break;
    case 'redis':
        $manager = new RedisManager(new Container, 'phpredis', [
            'options' => array_filter(['prefix' => $args['redis_prefix'], 'serializer' => $args['serializer'] ?? null], fn ($v) => $v !== null),
            // 8.83 calls auth($config['password']) only; Laravel 10+ calls
            // auth([$username, $password]) for an ACL user, which phpredis
            // also accepts as the password array here.
            'cache' => array_filter([
                'host' => $args['host'], 'port' => $args['port'], 'database' => $args['db'],
                'password' => isset($args['username']) ? [$args['username'], $args['password']] : ($args['password'] ?? null),
                'scheme' => $args['scheme'] ?? null, 'context' => $args['context'] ?? null,
            ], fn ($v) => $v !== null),
        ]);
        $store = new RedisStore($manager, $args['prefix'], 'cache');
        break;
    case 'redis_cluster':
        $manager = new RedisManager(new Container, 'phpredis', [
            'options' => array_filter(['prefix' => $args['redis_prefix'], 'password' => $args['password'] ?? null], fn ($v) => $v !== null),
            'clusters' => ['cache' => array_map(fn ($n) => ['host' => $n[0], 'port' => $n[1]], $args['nodes'])],
        ]);
        $store = new RedisStore($manager, $args['prefix'], 'cache');
        break;
    case 'redis_sentinel':
        require_once 'Predis/autoload.php';
        $manager = new RedisManager(new Container, 'predis', [
            'options' => ['prefix' => $args['redis_prefix']],
            'cache' => array_merge($args['sentinels'], ['options' => [
                'replication' => 'sentinel', 'service' => $args['service'],
                'parameters' => array_filter(['password' => $args['password'] ?? null, 'database' => $args['db']], fn ($v) => $v !== null),
            ]]),
        ]);
        $store = new RedisStore($manager, $args['prefix'], 'cache');
        break;
    case 'memcached':
        $servers = [];
        foreach ($args['servers'] ?? [[$args['host'], $args['port']]] as [$host, $port]) {
            $servers[] = ['host' => $host, 'port' => $port, 'weight' => 100];
        }
        $memcached = (new MemcachedConnector)->connect($servers);
        $store = new MemcachedStore($memcached, $args['prefix']);
        break;
    default:
        fwrite(STDERR, "oracle.php: unknown store {$args['store']}\n");
        exit(2);
}

if ($args['op'] === 'write') {
    if (! $store->forever($args['key'], $args['value'])) {
        fwrite(STDERR, "oracle.php: forever() returned false\n");
        exit(1);
    }
    echo "ok\n";
} else {
    $v = $store->get($args['key']);
    echo json_encode(['type' => gettype($v), 'value' => $v]), "\n";
}
