// Scaling over Redis Sentinel (a deployment of config/database.php named by
// REVERB_SCALING_CONNECTION): two `reverb start` servers on a Sentinel set started here
// (master, replica, sentinel — real redis-server processes on private ports). Events posted to
// one server reach pusher-js on the other while the master is killed: the servers reconnect by
// themselves, events flow again within 5 s, every event accepted after the kill is delivered once
// and in order, nothing crashes, and each server's log says what happened once. Afterwards the
// restart flag, kept in the same Sentinel set (CACHE_STORE=redis), restarts both servers.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  APP_A, REVERB_BIN, createProject, defaultApps, pusherClient, serverSdk, startRedis, startServer, stopAll,
  waitConnected, waitFor,
} from './lib/harness.mjs';

const haveRedis = spawnSync('redis-server', ['--version']).status === 0 && spawnSync('redis-cli', ['--version']).status === 0;
const skip = haveRedis ? false : 'redis-server/redis-cli not installed (CI installs them)';

const SERVICE = 'mymaster';
const procs = new Map(); // port → startRedis's {port, proc, stop}
let tmp;
let masterPort;
let replicaPort;
let sentinelPort;

async function redisServer(opts) {
  const r = await startRedis(opts);
  procs.set(r.port, r);
  return r.port;
}

function cli(port, ...args) {
  const r = spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 5000 });
  return r.status === 0 ? r.stdout.trim() : '';
}

/** SENTINEL replicas as a list of {field: value} records (redis-cli prints one value a line). */
function sentinelReplicas() {
  const lines = cli(sentinelPort, 'SENTINEL', 'replicas', SERVICE).split('\n');
  const out = [];
  let cur = null;
  for (let i = 0; i + 1 < lines.length; i += 2) {
    if (lines[i] === 'name') { cur = {}; out.push(cur); }
    if (cur) cur[lines[i]] = lines[i + 1];
  }
  return out;
}

function masterAddr() {
  const [host, port] = cli(sentinelPort, 'SENTINEL', 'get-master-addr-by-name', SERVICE).split('\n');
  return port ? Number(port) : 0;
}

before(async () => {
  if (!haveRedis) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reverb-e2e-sentinel-'));
  // Each data node keeps its files (a replica writes the RDB it receives) in the temp folder.
  const data = (name) => {
    fs.mkdirSync(path.join(tmp, name), { recursive: true });
    return ['--repl-diskless-sync-delay', '0', '--dir', path.join(tmp, name)];
  };
  masterPort = await redisServer({ args: data('master') });
  replicaPort = await redisServer({ args: [...data('replica'), '--replicaof', '127.0.0.1', String(masterPort)] });
  const conf = path.join(tmp, 'sentinel.conf');
  fs.writeFileSync(conf, [
    `sentinel monitor ${SERVICE} 127.0.0.1 ${masterPort} 1`,
    `sentinel down-after-milliseconds ${SERVICE} 1000`,
    `sentinel failover-timeout ${SERVICE} 10000`,
  ].join('\n') + '\n');
  sentinelPort = await redisServer({ conf, sentinel: true });
  await waitFor(() => sentinelReplicas().some((r) => r.flags === 'slave' && r['master-link-status'] === 'ok'),
    { timeout: 20000, interval: 100, message: 'the sentinel sees a synced replica' });
});

after(async () => {
  await stopAll();
  for (const p of procs.values()) p.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** config/database.php: the Sentinel set in predis' shape, for scaling and for the cache. */
function databasePhp() {
  const conn = `[
            'tcp://127.0.0.1:${sentinelPort}?timeout=0.5',
            'options' => ['replication' => 'sentinel', 'service' => '${SERVICE}', 'parameters' => ['database' => DB]],
        ]`;
  return `<?php

return [
    'default' => 'sqlite',
    'connections' => [],
    'redis' => [
        'client' => 'predis',
        'options' => ['prefix' => 'laravel_database_'],
        'ha' => ${conn.replace('DB', '0')},
        'cache' => ${conn.replace('DB', '1')},
    ],
];
`;
}

test('two servers on a Sentinel set: the master is killed mid-traffic', { skip, timeout: 120000 }, async () => {
  const project = await createProject({
    apps: defaultApps(),
    env: {
      REVERB_SCALING_ENABLED: 'true',
      REVERB_SCALING_CHANNEL: `reverb-ha-${process.pid}`,
      REVERB_SCALING_CONNECTION: 'ha',
      CACHE_STORE: 'redis',
    },
    files: { 'config/database.php': databasePhp() },
  });
  const node1 = await startServer({ project, workers: 1 });
  const node2 = await startServer({ project, workers: 1 });
  for (const n of [node1, node2]) await n.waitForOutput(/Redis connection established \(sentinel mymaster via/, 10000);

  // `reverb config` shows the resolved deployment.
  const cfg = spawnSync(REVERB_BIN, ['config', '--dir', project.dir], { encoding: 'utf8' });
  assert.match(cfg.stdout, new RegExp(`scaling: +on, channel "reverb-ha-${process.pid}" via sentinel mymaster via 127\\.0\\.0\\.1:${sentinelPort}`));
  assert.match(cfg.stdout, /location: +redis sentinel mymaster via .* db 1 key laravel_database_laravel.cache.laravel:reverb:restart/);

  const client = pusherClient(node2, APP_A);
  await waitConnected(client);
  const ch = client.subscribe('orders');
  await new Promise((r) => ch.bind('pusher:subscription_succeeded', r));
  const got = []; // [seq, time]
  ch.bind('tick', (d) => got.push([d.seq, Date.now()]));

  // Post an event to node 1 every 50 ms; remember when each was accepted.
  const sdk = serverSdk(node1, APP_A);
  const accepted = new Map(); // seq → time the API answered 200
  let stop = false;
  const poster = (async () => {
    for (let seq = 1; !stop; seq++) {
      const res = await sdk.trigger('orders', 'tick', { seq });
      if (res.status === 200) accepted.set(seq, Date.now());
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  await waitFor(() => got.length >= 20, { timeout: 10000, message: 'events flowing between the servers' });

  const oldMaster = masterAddr();
  const killedAt = Date.now();
  procs.get(oldMaster).stop();
  await waitFor(() => masterAddr() !== oldMaster, { timeout: 30000, interval: 100, message: 'Sentinel elected a new master' });
  // Sentinel usually elects within ~2 s, but may abort its first attempt and try again only after
  // twice failover-timeout (20 s here): how soon events flow again is measured from the election,
  // the part the servers own.
  const electedAt = Date.now();
  for (const n of [node1, node2]) {
    await n.waitForOutput(/Redis connection established \(sentinel mymaster via [^)]*\) after/, 15000);
  }
  await new Promise((r) => setTimeout(r, 1000)); // traffic after the reconnection
  stop = true;
  await poster;

  const afterKill = [...accepted].filter(([, t]) => t >= killedAt).map(([s]) => s);
  const last = Math.max(...accepted.keys());
  await waitFor(() => got.some(([s]) => s === last), { timeout: 10000, message: `event ${last} delivered` });
  const seqs = got.map(([s]) => s);
  const delivered = new Set(seqs);
  const missing = afterKill.filter((s) => !delivered.has(s));
  assert.deepEqual(missing, [], 'every event accepted after the kill reaches the other server');
  // An event whose PUBLISH was on the wire when the master died is sent again (its reply never
  // came), so it may arrive twice, right after itself; nothing else repeats or reorders.
  const dups = seqs.length - new Set(seqs).size;
  assert.ok(dups <= 1, `${dups} events delivered twice`);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'events in the order they were posted');
  const firstAfter = got.find(([s]) => s >= afterKill[0]);
  const gap = firstAfter[1] - killedAt;
  const sinceElection = Math.max(0, firstAfter[1] - electedAt);
  console.log(`# events crossed between the servers again ${gap} ms after the master was killed, ${sinceElection} ms after Sentinel named the new one`);
  assert.ok(sinceElection < 5000, `events flowed again only ${sinceElection} ms after the new master was elected`);

  for (const n of [node1, node2]) {
    assert.equal(n.proc.exitCode, null, 'the server is still running');
    const out = n.output();
    for (const line of ['Disconnected from Redis (subscriber', 'Attempting reconnection to Redis (subscriber']) {
      assert.ok(out.split(line).length - 1 <= 1, `"${line}" logged more than once:\n${n.tail()}`);
    }
  }

  // The restart flag lives in the same Sentinel set: `reverb restart` writes it on the new
  // master and both servers restart.
  // pusher-js says subscription_succeeded again once it resubscribed after the drain's close.
  let resubscribed = false;
  ch.bind('pusher:subscription_succeeded', () => { resubscribed = true; });
  const r = spawnSync(REVERB_BIN, ['restart', '--dir', project.dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  // The event goes out once the client is subscribed on a new generation: one sent between its
  // 4200 close and its resubscription would not be for it (Pusher replays nothing).
  for (const n of [node1, node2]) await n.waitForOutput(/Generation 1 gone/, 20000);
  await waitFor(() => resubscribed, { timeout: 15000, message: 'the client subscribed again after the restart' });
  const res = await sdk.trigger('orders', 'tick', { seq: 100000 });
  assert.equal(res.status, 200);
  await waitFor(() => got.some(([s]) => s === 100000), { timeout: 10000, message: 'an event after the restart' });
  client.disconnect();
  project.cleanup();
});
