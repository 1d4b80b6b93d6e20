// Interest routing (REVERB_SCALING_ROUTING=interest): three `reverb start` servers scale over
// Redis, and each node receives only the broadcasts of channels it has subscribers on (one Redis
// channel per app channel). First on one redis-server (the servers run 1, 1 and 2 workers: four
// nodes), then on a Redis Cluster of three masters built here with `redis-cli --cluster create`
// (shard channels, SSUBSCRIBE/SPUBLISH). pusher-js, raw clients and the Pusher SDK see exactly
// what the classic mode gives them: events and client events across nodes, toOthers, presence
// once per user, cache channels, the API's channel/user/connection queries and terminate on any
// node. A node started without the setting (classic routing) is reported by the others.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  APP_A, REVERB_BIN, RawClient, api, createProject, defaultApps, freePort, pusherClient, serverSdk, startRedis, startServer, stopAll,
  waitConnected, waitFor,
} from './lib/harness.mjs';
import { cacheMiss, memberAdded, memberRemoved, phpJson } from './lib/frames.mjs';

const haveRedis = spawnSync('redis-server', ['--version']).status === 0 && spawnSync('redis-cli', ['--version']).status === 0;
const skip = haveRedis ? false : 'redis-server/redis-cli not installed (CI installs them)';

const procs = [];
const clients = [];
let tmp;

async function redisServer(opts) {
  const r = await startRedis(opts);
  procs.push(r);
  return r.port;
}

function cli(port, ...args) {
  const r = spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 10000 });
  return r.status === 0 ? r.stdout.trim() : '';
}

/** The Redis channel of an app channel's topic (server/cluster/redis/topics.go). */
function topicChannel(prefix, appId, channel) {
  const key = `c:${appId.length}:${appId}:${channel}`;
  let h = 0x811c9dc5; // FNV-1a, 32 bits
  for (const b of Buffer.from(key)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return `${prefix}:{${h % 256}}:${key}`;
}

async function connect(server) {
  const c = await RawClient.connect(server, APP_A.key);
  clients.push(c);
  return c;
}

before(() => {
  if (haveRedis) tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reverb-e2e-routing-'));
});

after(async () => {
  for (const c of clients) c.terminate();
  await stopAll();
  for (const p of procs) p.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** The scenario both deployments run; numsub(channel) counts a Redis channel's subscribers. */
function scenario(ctx) {
  test('events from the API reach pusher-js on other nodes, only nodes with subscribers receive them, toOthers works', async () => {
    const { nodes, numsub } = ctx();
    const [n1, n2, n3] = nodes;
    const p1 = pusherClient(n1, APP_A);
    const p2 = pusherClient(n2, APP_A);
    const id2 = await waitConnected(p2);
    await waitConnected(p1);
    const got1 = [];
    const got2 = [];
    const c1 = p1.subscribe('orders');
    const c2 = p2.subscribe('orders');
    await Promise.all([
      new Promise((r) => c1.bind('pusher:subscription_succeeded', r)),
      new Promise((r) => c2.bind('pusher:subscription_succeeded', r)),
    ]);
    c1.bind('shipped', (d) => got1.push(d));
    c2.bind('shipped', (d) => got2.push(d));
    // Two nodes (of the four) are subscribed to the channel's Redis channel.
    assert.equal(numsub('orders'), 2);

    const sdk = serverSdk(n3, APP_A);
    assert.equal((await sdk.trigger('orders', 'shipped', { id: 1 })).status, 200);
    await sdk.trigger('orders', 'shipped', { id: 2 }, { socket_id: id2 });
    await sdk.trigger('orders', 'shipped', { id: 3 });
    await waitFor(() => got1.length === 3 && got2.length === 2, { timeout: 5000, message: 'events on both nodes' });
    assert.deepEqual(got1.map((d) => d.id), [1, 2, 3]);
    assert.deepEqual(got2.map((d) => d.id), [1, 3]);
    p1.disconnect();
    p2.disconnect();
  });

  test('client events cross nodes; the exact PHP-JSON frame reaches a raw client', async () => {
    const { nodes } = ctx();
    const a = await connect(nodes[0]);
    const b = await connect(nodes[1]);
    await a.subscribeOk('private-chat');
    await b.subscribeOk('private-chat');
    a.whisper('private-chat', 'client-typing', { who: 'a' });
    await b.expectFrame(JSON.stringify({ event: 'client-typing', channel: 'private-chat', data: { who: 'a' } }), 5000);
    const r = await api(nodes[2], APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: 'E', channel: 'private-chat', data: '{"x":"\\/"}' } });
    assert.equal(r.status, 200);
    await a.expectFrame(phpJson({ event: 'E', data: '{"x":"\\/"}', channel: 'private-chat' }), 5000);
    await b.expectFrame(phpJson({ event: 'E', data: '{"x":"\\/"}', channel: 'private-chat' }), 5000);
  });

  test('presence once per user; users, channel info and connections on every node; terminate on another node', async () => {
    const { nodes } = ctx();
    const ch = 'presence-room';
    const watcher = await connect(nodes[0]);
    await watcher.subscribeOk(ch, { channelData: { user_id: 1, user_info: { name: 'W' } } });
    const u7 = await connect(nodes[1]);
    await u7.subscribeOk(ch, { channelData: { user_id: 7, user_info: { name: 'Seven' } } });
    await watcher.expectFrame(memberAdded(ch, { user_id: 7, user_info: { name: 'Seven' } }), 5000);
    const u7b = await connect(nodes[3] ?? nodes[2]);
    await u7b.subscribeOk(ch, { channelData: { user_id: 7, user_info: { name: 'Seven' } } });
    await watcher.expectNoFrame();

    for (const server of nodes) {
      const users = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels/${ch}/users`);
      assert.deepEqual(users.json.users.map((u) => u.id).sort(), [1, 7]);
      const info = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels/${ch}`, { query: { info: 'user_count' } });
      assert.equal(info.json.user_count, 2, `user_count on port ${server.port}`);
      assert.equal(info.json.occupied, true);
      const chans = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels`, { query: { filter_by_prefix: 'presence-', info: 'user_count' } });
      assert.equal(chans.json.channels[ch]?.user_count, 2, `channels on port ${server.port}: ${chans.text}`);
    }
    const before = (await api(nodes[0], APP_A, 'GET', `/apps/${APP_A.id}/connections`)).json.connections;
    await connect(nodes[1]);
    for (const server of nodes) {
      const c = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/connections`);
      assert.equal(c.json.connections, before + 1, `connections on port ${server.port}`);
    }

    const r = await serverSdk(nodes[2], APP_A).terminateUserConnections('7');
    assert.equal(r.status, 200);
    const [c1, c2] = await Promise.all([u7.waitClosed(5000), u7b.waitClosed(5000)]);
    assert.equal(c1.code, 4009);
    assert.equal(c2.code, 4009);
    await watcher.expectFrame(memberRemoved(ch, 7), 5000);
  });

  test('cache channels: the last event reaches a subscriber on a node that had none', async () => {
    const { nodes } = ctx();
    const a = await connect(nodes[0]);
    await a.subscribeOk('cache-prices');
    await a.expectFrame(cacheMiss('cache-prices'), 5000);
    await api(nodes[1], APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: 'price', channel: 'cache-prices', data: '42' } });
    await a.expectFrame(phpJson({ event: 'price', data: '42', channel: 'cache-prices' }), 5000);
    const c = await connect(nodes[2]);
    await c.subscribeOk('cache-prices');
    await c.expectFrame(phpJson({ event: 'price', data: '42', channel: 'cache-prices' }), 5000);
    // And the API's channel info on a node without subscribers sees the subscription count.
    const info = await api(nodes[1], APP_A, 'GET', `/apps/${APP_A.id}/channels/cache-prices`, { query: { info: 'subscription_count' } });
    assert.equal(info.json.subscription_count, 2);
  });
}

describe('interest routing on one Redis server', { skip }, () => {
  let port;
  const nodes = [];
  const prefix = `reverb-routing-${process.pid}`;
  before(async () => {
    if (!haveRedis) return;
    port = await redisServer();
    const project = await createProject({
      apps: defaultApps(),
      env: {
        REVERB_SCALING_ENABLED: 'true',
        REVERB_SCALING_CHANNEL: prefix,
        REVERB_SCALING_ROUTING: 'interest',
        REDIS_HOST: '127.0.0.1',
        REDIS_PORT: String(port),
        REDIS_PASSWORD: 'null',
      },
    });
    nodes.push(await startServer({ project, workers: 1 }));
    nodes.push(await startServer({ project, workers: 1 }));
    nodes.push(await startServer({ project, workers: 2 }));
    for (const n of nodes) await n.waitForOutput(/Redis connection established/, 10000);
    const cfg = spawnSync(REVERB_BIN, ['config', '--dir', project.dir], { encoding: 'utf8' });
    assert.match(cfg.stdout, /scaling routing: +interest \(REVERB_SCALING_ROUTING\)/);
  });
  scenario(() => ({
    nodes,
    numsub: (channel) => Number(cli(port, 'PUBSUB', 'NUMSUB', topicChannel(prefix, APP_A.id, channel)).split('\n')[1]),
  }));

  test('a node in the classic routing is reported by the others', async () => {
    const project = await createProject({
      apps: defaultApps(),
      env: { REVERB_SCALING_ENABLED: 'true', REVERB_SCALING_CHANNEL: prefix, REDIS_HOST: '127.0.0.1', REDIS_PORT: String(port), REDIS_PASSWORD: 'null' },
    });
    const classic = await startServer({ project, workers: 0 });
    try {
      await nodes[0].waitForOutput(/uses the classic routing \(every node receives every message\) and this node the interest routing/, 15000);
      await classic.waitForOutput(/uses the interest routing and this node the classic one/, 15000);
    } finally {
      await classic.stop();
    }
  });
});

describe('interest routing on a Redis Cluster of three masters', { skip }, () => {
  const nodes = [];
  const ports = [];
  const prefix = `reverb-routing-cluster-${process.pid}`;
  before(async () => {
    if (!haveRedis) return;
    for (let i = 0; i < 3; i++) {
      ports.push(await redisServer({
        args: async (port) => {
          const dir = path.join(tmp, `node-${port}`);
          fs.mkdirSync(dir, { recursive: true });
          return ['--cluster-enabled', 'yes', '--cluster-port', String(await freePort()), '--cluster-node-timeout', '1000',
            '--cluster-config-file', path.join(dir, 'nodes.conf'), '--dir', dir];
        },
      }));
    }
    const r = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
      { encoding: 'utf8', timeout: 30000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    await waitFor(() => ports.every((p) => cli(p, 'CLUSTER', 'INFO').includes('cluster_state:ok')), { timeout: 30000, interval: 100, message: 'cluster ok' });
    const project = await createProject({
      apps: defaultApps(),
      env: { REVERB_SCALING_ENABLED: 'true', REVERB_SCALING_CHANNEL: prefix, REVERB_SCALING_ROUTING: 'interest', REVERB_SCALING_CONNECTION: 'scaling' },
      files: {
        'config/database.php': `<?php

return [
    'default' => 'sqlite',
    'connections' => [],
    'redis' => [
        'client' => 'phpredis',
        'options' => ['cluster' => 'redis'],
        'clusters' => [
            'scaling' => [
${ports.map((p) => `                ['host' => '127.0.0.1', 'port' => ${p}],`).join('\n')}
            ],
        ],
    ],
];
`,
      },
    });
    nodes.push(await startServer({ project, workers: 1 }));
    nodes.push(await startServer({ project, workers: 1 }));
    nodes.push(await startServer({ project, workers: 1 }));
    for (const n of nodes) await n.waitForOutput(/Redis connection established \(cluster /, 15000);
  });
  scenario(() => ({
    nodes,
    // A shard channel's subscribers are all on the master of its slot.
    numsub: (channel) => ports.reduce((n, p) => n + Number(cli(p, 'PUBSUB', 'SHARDNUMSUB', topicChannel(prefix, APP_A.id, channel)).split('\n')[1] ?? 0), 0),
  }));
});
