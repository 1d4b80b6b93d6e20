// Horizontal scaling over Redis (spec §10, §15 case 48): two `reverb start` processes — one
// with one worker, one with two, so three Redis nodes — on one real redis-server started here.
// An event posted to one reaches subscribers of the other, toOthers works across them,
// /connections and /channels on either aggregate both, presence is once per user, and
// terminate_connections on one closes the user's sockets on the other.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import {
  APP_A, RawClient, api, createProject, defaultApps, freePort, pusherClient, serverSdk, startRedis, startServer,
  waitConnected, waitFor,
} from './lib/harness.mjs';
import { memberAdded, phpJson } from './lib/frames.mjs';

const haveRedis = spawnSync('redis-server', ['--version']).status === 0;
const skip = haveRedis ? false : 'redis-server not installed (CI installs it)';

let redis;
let redisPort;
let project;
let node1;
let node2;
const clients = [];

before(async () => {
  if (!haveRedis) return;
  redis = await startRedis();
  redisPort = redis.port;
  project = await createProject({
    apps: defaultApps(),
    env: {
      REVERB_SCALING_ENABLED: 'true',
      REVERB_SCALING_CHANNEL: `reverb-e2e-${process.pid}`,
      REDIS_HOST: '127.0.0.1',
      REDIS_PORT: String(redisPort),
      REDIS_PASSWORD: 'null',
    },
  });
  node1 = await startServer({ project, workers: 1 });
  node2 = await startServer({ project, workers: 2 });
  // Every node subscribed: 3 subscribers on the channel.
  await waitFor(async () => (await node1.waitForOutput(/Redis connection established/, 100).then(() => true, () => false)), { timeout: 10000, message: 'node 1 on Redis' });
});

after(async () => {
  for (const c of clients) c.terminate();
  await node1?.stop();
  await node2?.stop();
  redis?.stop();
  await project?.cleanup?.();
});

async function connect(server) {
  const c = await RawClient.connect(server, APP_A.key);
  clients.push(c);
  return c;
}

describe('two reverb processes on one Redis', { skip }, () => {
  test('an event posted to node 1 reaches pusher-js subscribers on node 2; toOthers across nodes', async () => {
    const p2 = pusherClient(node2, APP_A);
    const p1 = pusherClient(node1, APP_A);
    const id2 = await waitConnected(p2);
    await waitConnected(p1);
    const got1 = [];
    const got2 = [];
    const ch2 = p2.subscribe('orders');
    const ch1 = p1.subscribe('orders');
    await Promise.all([
      new Promise((r) => ch2.bind('pusher:subscription_succeeded', r)),
      new Promise((r) => ch1.bind('pusher:subscription_succeeded', r)),
    ]);
    ch2.bind('shipped', (d) => got2.push(d));
    ch1.bind('shipped', (d) => got1.push(d));

    const sdk = serverSdk(node1, APP_A);
    const res = await sdk.trigger('orders', 'shipped', { id: 1 });
    assert.equal(res.status, 200);
    await waitFor(() => got1.length === 1 && got2.length === 1, { timeout: 5000, message: 'both nodes delivered' });
    assert.deepEqual(got2[0], { id: 1 });

    // toOthers: the excluded socket is on node 2.
    await sdk.trigger('orders', 'shipped', { id: 2 }, { socket_id: id2 });
    await sdk.trigger('orders', 'shipped', { id: 3 });
    await waitFor(() => got1.length === 3 && got2.length === 2, { timeout: 5000, message: 'third event' });
    assert.deepEqual(got2.map((d) => d.id), [1, 3]);
    p1.disconnect();
    p2.disconnect();
  });

  test('/connections and /channels on either node aggregate both', async () => {
    const a = await connect(node1);
    const b = await connect(node2);
    const b2 = await connect(node2);
    await a.subscribeOk('agg-1');
    await b.subscribeOk('agg-1');
    await b2.subscribeOk('agg-2');
    for (const server of [node1, node2]) {
      await waitFor(async () => {
        const r = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels`, { query: { info: 'subscription_count', filter_by_prefix: 'agg-' } });
        return r.status === 200 && r.json.channels['agg-1']?.subscription_count === 2 && r.json.channels['agg-2']?.subscription_count === 1;
      }, { timeout: 5000, message: `channels on port ${server.port}` });
      const c = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/connections`);
      assert.equal(c.status, 200);
      assert.ok(c.json.connections >= 3, `connections ${c.text}`);
    }
    // Counted exactly: open one more on node 1 and see both nodes add it.
    const before1 = (await api(node1, APP_A, 'GET', `/apps/${APP_A.id}/connections`)).json.connections;
    await connect(node1);
    const after2 = (await api(node2, APP_A, 'GET', `/apps/${APP_A.id}/connections`)).json.connections;
    assert.equal(after2, before1 + 1);
  });

  test('presence: member_added once per user across nodes; terminate on node 1 closes sockets on node 2', async () => {
    const ch = 'presence-scaling';
    const watcher = await connect(node1);
    await watcher.subscribeOk(ch, { channelData: { user_id: 1, user_info: { name: 'W' } } });
    const u7 = await connect(node2);
    await u7.subscribeOk(ch, { channelData: { user_id: 7, user_info: { name: 'Seven' } } });
    await watcher.expectFrame(memberAdded(ch, { user_id: 7, user_info: { name: 'Seven' } }), 5000);
    // The same user on node 1 too: no second member_added.
    const u7b = await connect(node1);
    await u7b.subscribeOk(ch, { channelData: { user_id: 7, user_info: { name: 'Seven' } } });
    await watcher.expectNoFrame();

    const users = await api(node1, APP_A, 'GET', `/apps/${APP_A.id}/channels/${ch}/users`);
    assert.deepEqual(users.json.users.map((u) => u.id).sort(), [1, 7]);

    const sdk = serverSdk(node1, APP_A);
    const r = await sdk.terminateUserConnections('7');
    assert.equal(r.status, 200);
    const [c1, c2] = await Promise.all([u7.waitClosed(5000), u7b.waitClosed(5000)]);
    assert.equal(c1.code, 4009);
    assert.equal(c2.code, 4009);
  });

  test('a restart of node 1: a client back on its new generation gets every node\'s members at once', async () => {
    const ch = 'presence-restart';
    for (let id = 21; id <= 25; id++) {
      const m = await connect(node2);
      await m.subscribeOk(ch, { channelData: { user_id: id, user_info: {} } });
    }
    const x = await connect(node1);
    const before = await x.subscribeOk(ch, { channelData: { user_id: 20, user_info: {} } });
    assert.deepEqual(before.presence.ids.map(String).sort(), ['20', '21', '22', '23', '24', '25']);

    // The new generation's worker is a new node of the Redis channel: it
    // serves once the other nodes answered its hello with their members.
    node1.proc.kill('SIGHUP');
    assert.equal((await x.waitClosed(10000)).code, 4200);
    await node1.waitForOutput(/Generation \d+ gone/, 10000);
    const back = await connect(node1);
    const after = await back.subscribeOk(ch, { channelData: { user_id: 20, user_info: {} } });
    assert.deepEqual(after.presence.ids.map(String).sort(), ['20', '21', '22', '23', '24', '25']);
    await back.expectNoFrame(); // no member_added for users who never left
  });

  test('an API event to node 2 reaches a raw client on node 1 with the exact PHP-JSON frame', async () => {
    const a = await connect(node1);
    await a.subscribeOk('raw-news');
    const r = await api(node2, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: 'E', channel: 'raw-news', data: '{"x":"\\/"}' } });
    assert.equal(r.status, 200);
    // PHP-JSON escapes: the slash inside the data string comes out as \/ (spec §13.1).
    await a.expectFrame(phpJson({ event: 'E', data: '{"x":"\\/"}', channel: 'raw-news' }), 5000);
  });

  test('Redis stopped and started again: local delivery continues, nobody exits, cross-node delivery resumes', async () => {
    const a = await connect(node1);
    const b = await connect(node2);
    await a.subscribeOk('outage');
    await b.subscribeOk('outage');
    const exited = new Promise((r) => redis.proc.once('exit', r));
    redis.stop();
    await exited;
    await node1.waitForOutput(/Disconnected from Redis/, 5000);

    const r = await api(node1, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: 'E', channel: 'outage', data: 'during' } });
    assert.equal(r.status, 200);
    await a.expectFrame(phpJson({ event: 'E', data: 'during', channel: 'outage' }), 5000);

    redis = await startRedis({ port: redisPort }); // the nodes know this port
    // What node 1 published meanwhile reaches node 2 once both are back.
    await b.expectFrame(phpJson({ event: 'E', data: 'during', channel: 'outage' }), 15000);
    await waitFor(async () => {
      await api(node2, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: 'E', channel: 'outage', data: 'after' } });
      const f = await a.next(1000).catch(() => null);
      return f === phpJson({ event: 'E', data: 'after', channel: 'outage' });
    }, { timeout: 15000, message: 'cross-node delivery resumed' });
    for (const s of [node1, node2]) assert.equal(s.proc.exitCode, null, 'process still running');
  });
});

describe('scaling with Redis away at start', { skip }, () => {
  test('the server starts, serves its own clients, and joins Redis when it comes up', async () => {
    const port = await freePort();
    const alone = await startServer({
      apps: defaultApps(),
      workers: 0,
      env: { REVERB_SCALING_ENABLED: 'true', REDIS_HOST: '127.0.0.1', REDIS_PORT: String(port), REDIS_TIMEOUT: '1' },
    });
    try {
      await alone.waitForOutput(/not reachable yet/, 10000);
      const c = await RawClient.connect(alone, APP_A.key);
      clients.push(c);
      await c.subscribeOk('solo');
      const r = await api(alone, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: 'E', channel: 'solo', data: 'local' } });
      assert.equal(r.status, 200);
      await c.expectFrame(phpJson({ event: 'E', data: 'local', channel: 'solo' }), 5000);
      // Past Reverb's give-up point (REDIS_TIMEOUT=1): still running.
      await alone.waitForOutput(/Failed to connect to Redis after retrying for 1s/, 10000);
      assert.equal(alone.proc.exitCode, null);

      const late = await startRedis({ port }); // the server was told this port
      try {
        await alone.waitForOutput(/Redis connection established/, 20000);
        const conns = await api(alone, APP_A, 'GET', `/apps/${APP_A.id}/connections`);
        assert.equal(conns.json.connections, 1);
      } finally {
        late.stop();
      }
    } finally {
      await alone.stop();
    }
  });
});
