// Pulse messages card: with config/pulse.php listing Reverb's ReverbMessages recorder,
// the server counts reverb_message:sent / reverb_message:received per app and upserts count rows
// into the app's pulse_aggregates every pulse_ingest_interval seconds. Two workers each ingest
// their own counts: the upserts add up to the totals.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { APP_A, RawClient, api, createProject, defaultApps, startRedis, startServer, waitFor } from './lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
// Reads the ingest stream like `php artisan pulse:work` (XRANGE + unserialize with a class of
// Pulse's Entry shape) and prints the entries as JSON.
const READ_STREAM = path.resolve(here, '../../server/pulse/testdata/read_stream.php');
const havePhpRedis = spawnSync('php', ['-r', "echo extension_loaded('redis') ? 'yes' : 'no';"]).stdout?.toString() === 'yes';
const haveRedis = spawnSync('redis-server', ['--version']).status === 0;

const haveSqlite = (() => {
  try { execFileSync('sqlite3', ['-version']); return true; } catch { return false; }
})();

// pulse_aggregates as Pulse's migration creates it on SQLite (key_hash filled by the writer).
const SCHEMA = `
create table "pulse_aggregates" ("id" integer primary key autoincrement not null, "bucket" integer not null,
  "period" integer not null, "type" varchar not null, "key" text not null, "key_hash" varchar not null,
  "aggregate" varchar not null, "value" numeric not null, "count" integer);
create unique index "pulse_aggregates_bucket_period_type_aggregate_key_hash_unique"
  on "pulse_aggregates" ("bucket", "period", "type", "aggregate", "key_hash");`;

const PULSE_PHP = `<?php

use Laravel\\Reverb\\Pulse\\Recorders\\ReverbConnections;
use Laravel\\Reverb\\Pulse\\Recorders\\ReverbMessages;

return [
    'enabled' => env('PULSE_ENABLED', true),
    'storage' => [
        'driver' => env('PULSE_STORAGE_DRIVER', 'database'),
        'database' => [
            'connection' => env('PULSE_DB_CONNECTION'),
            'chunk' => 1000,
        ],
    ],
    'ingest' => [
        'driver' => env('PULSE_INGEST_DRIVER', 'storage'),
        'buffer' => env('PULSE_INGEST_BUFFER', 5_000),
        'redis' => [
            'connection' => env('PULSE_REDIS_CONNECTION'),
            'chunk' => 1000,
        ],
    ],
    'recorders' => [
        ReverbConnections::class => [
            'sample_rate' => 1,
        ],
        ReverbMessages::class => [
            'sample_rate' => env('REVERB_MESSAGES_SAMPLE_RATE', 1),
        ],
    ],
];
`;

let server;
let db;

before(async () => {
  if (!haveSqlite) return;
  const project = await createProject({ apps: defaultApps(), files: { 'config/pulse.php': PULSE_PHP } });
  db = path.join(project.dir, 'database', 'database.sqlite');
  fs.mkdirSync(path.dirname(db), { recursive: true });
  execFileSync('sqlite3', [db, SCHEMA]);
  fs.appendFileSync(path.join(project.dir, '.env'), `DB_CONNECTION=sqlite\nDB_DATABASE="${db}"\nREVERB_PULSE_INGEST_INTERVAL=1\n`);
  server = await startServer({ project, workers: 2 });
});

after(async () => {
  await server?.stop();
  server?.project.cleanup();
});

function sums() {
  // The workers write every second: wait for their locks like any other SQLite reader.
  const out = execFileSync('sqlite3', ['-json', '-cmd', '.timeout 5000', db,
    `select key, type, period, sum(value) as n, count(*) as rows, count("count") as counts, min(key_hash) as h
       from pulse_aggregates where aggregate = 'count' group by key, type, period`]).toString();
  return out.trim() === '' ? [] : JSON.parse(out);
}

test('pulse_aggregates gets count rows for each period and app', { skip: !haveSqlite && 'sqlite3 not installed' }, async () => {
  const socks = await Promise.all(Array.from({ length: 4 }, () => RawClient.connect(server, APP_A.key)));
  await Promise.all(socks.map((s) => s.subscribeOk('pulse-news')));
  for (let i = 0; i < 3; i++) {
    const r = await api(server, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: 'Tick', data: '{}', channel: 'pulse-news' } });
    assert.equal(r.status, 200);
  }
  await Promise.all(socks.map(async (s) => { for (let i = 0; i < 3; i++) await s.next(5000); }));
  socks[0].send({ event: 'pusher:ping', data: {} });
  await socks[0].next(5000); // pusher:pong
  // Sent: established + subscription_succeeded + 3 events per socket, plus one pong.
  // Received: one subscribe per socket, plus one ping.
  const want = { 'reverb_message:sent': 4 * 5 + 1, 'reverb_message:received': 4 + 1 };
  const byType = () => {
    const got = {};
    for (const r of sums()) if (r.key === APP_A.id && r.period === 60) got[r.type] = r.n;
    return got;
  };
  await waitFor(() => byType()['reverb_message:sent'] === want['reverb_message:sent'] &&
    byType()['reverb_message:received'] === want['reverb_message:received'],
  { timeout: 10000, message: `pulse_aggregates totals ${JSON.stringify(want)}` }).catch(() => {});
  const rows = sums().filter((r) => r.key === APP_A.id);
  for (const period of [60, 360, 1440, 10080]) {
    for (const [type, n] of Object.entries(want)) {
      const r = rows.find((x) => x.type === type && x.period === period);
      assert.ok(r, `no ${type} row for period ${period}: ${JSON.stringify(rows)}`);
      assert.equal(r.n, n, `${type} period ${period}`);
      assert.equal(r.counts, 0, 'count column stays NULL for count aggregates');
      assert.equal(r.h, 'e10adc3949ba59abbe56e057f20f883e', 'key_hash is md5(app id)');
    }
  }
  // A second round of traffic adds to the same rows.
  const r = await api(server, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: 'Tick', data: '{}', channel: 'pulse-news' } });
  assert.equal(r.status, 200);
  await Promise.all(socks.map((s) => s.next(5000)));
  await waitFor(() => byType()['reverb_message:sent'] === want['reverb_message:sent'] + 4,
    { timeout: 10000, message: 'second ingest adds 4 sent' });
  await Promise.all(socks.map((s) => { s.close(); return s.waitClosed(); }));
});

test('redis ingest: serialized Laravel\\Pulse\\Entry objects on the prefixed stream', {
  skip: !(haveRedis && havePhpRedis) && 'redis-server or php-redis not installed (CI installs them)',
}, async () => {
  const redis = await startRedis();
  const { port } = redis;
  let srv;
  try {
    const project = await createProject({
      apps: defaultApps(),
      files: { 'config/pulse.php': PULSE_PHP },
      env: { PULSE_INGEST_DRIVER: 'redis', REDIS_HOST: '127.0.0.1', REDIS_PORT: String(port), REDIS_PASSWORD: 'null', REDIS_PREFIX: 'myapp_database_', REVERB_PULSE_INGEST_INTERVAL: 1 },
    });
    srv = await startServer({ project, workers: 2 });
    const socks = await Promise.all(Array.from({ length: 2 }, () => RawClient.connect(srv, APP_A.key)));
    await Promise.all(socks.map((s) => s.subscribeOk('pulse-redis')));
    // Sent: 2 × (established + succeeded); received: 2 subscribes. The stream key carries the
    // connection prefix (raw XADD bypasses phpredis' OPT_PREFIX, so Pulse adds it by hand).
    const read = () => JSON.parse(execFileSync('php', [READ_STREAM, String(port), 'myapp_database_laravel:pulse:ingest']).toString());
    let entries = [];
    await waitFor(() => { entries = read(); return entries.length >= 6; }, { timeout: 10000, message: '6 entries on the stream' })
      .catch((e) => { throw new Error(`${e.message}: ${JSON.stringify(entries)}\n${srv.tail()}`); });
    await new Promise((r) => setTimeout(r, 1500)); // nothing more arrives
    entries = read();
    const count = (type) => entries.filter((e) => e.type === type).length;
    assert.equal(count('reverb_message:sent'), 4, JSON.stringify(entries));
    assert.equal(count('reverb_message:received'), 2);
    const now = Date.now() / 1000;
    for (const e of entries) {
      assert.equal(e.class, 'Laravel\\Pulse\\Entry');
      assert.equal(e.key, APP_A.id);
      assert.equal(e.value, null);
      assert.deepEqual(e.aggregations, ['count']);
      assert.equal(e.only_buckets, true);
      assert.ok(Math.abs(e.timestamp - now) < 30, `timestamp ${e.timestamp}`);
    }
    await Promise.all(socks.map((s) => { s.close(); return s.waitClosed(); }));
  } finally {
    await srv?.stop();
    srv?.project.cleanup();
    redis.stop();
  }
});
