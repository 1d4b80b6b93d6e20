// One node's Redis subscription dropped while Redis stays up (CLIENT KILL, a proxy's idle timeout,
// the pub/sub output buffer limit): the node subscribes again at once, and what the other nodes
// publish in between never reaches it. The broadcasts of that moment are lost (as under PHP
// Reverb), but the cluster-wide state they carry must not stay wrong: once subscribed again the
// node asks its peers for their presence memberships and ledger state, which replace what it
// held of them. Two `reverb start` processes on a real redis-server; node 2 reaches Redis through
// a TCP proxy here that holds its SUBSCRIBE back for a moment after its subscriber connection was
// killed with CLIENT KILL, so presence churn on node 1 falls into that window every time. Then
// node 2's members (frames to its clients, the API's users and user_count, a new subscriber's
// subscription_succeeded) and every webhook are compared with the truth.
//
// REVERB_E2E_PORT_BASE=N takes ports N..N+9 (for each test: Redis, proxy, node 1, node 2, webhook
// receiver) instead of free ones.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { after, describe, test } from 'node:test';

import PusherServer from 'pusher';

import { APP_A, RawClient, api, createProject, freePort, startRedis, startServer, waitFor } from './lib/harness.mjs';
import { memberAdded, memberRemoved } from './lib/frames.mjs';

const haveRedis = spawnSync('redis-server', ['--version']).status === 0;
const skip = haveRedis ? false : 'redis-server not installed (CI installs it)';
const HOLD = 3000; // Pusher's hold of channel_vacated and member_removed
const base = Number(process.env.REVERB_E2E_PORT_BASE) || 0;
const port = async (i) => (base ? base + i : freePort());
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const started = [];
const clients = [];
after(async () => {
  for (const c of clients) c.terminate();
  for (const s of started.reverse()) await s.stop?.();
});

/** One command to Redis over RESP; resolves with the raw reply. */
function redisCommand(redisPort, ...args) {
  return new Promise((resolve, reject) => {
    const s = net.connect(redisPort, '127.0.0.1');
    let buf = '';
    s.setTimeout(2000, () => { s.destroy(); reject(new Error(`no answer to ${args.join(' ')}`)); });
    s.on('error', reject);
    s.on('connect', () => s.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`));
    s.on('data', (d) => {
      buf += d.toString('latin1');
      const m = /^\$(\d+)\r\n/.exec(buf);
      if ((m && buf.length >= m[0].length + Number(m[1]) + 2) || (!m && buf.endsWith('\r\n') && !buf.startsWith('$'))) {
        s.destroy();
        resolve(buf);
      }
    });
  });
}

/**
 * A TCP proxy in front of Redis for one node. While `holding`, a connection whose client sends
 * SUBSCRIBE gets nothing more forwarded until release(): the node's new subscription waits. With
 * `closeDelay`, a subscriber connection Redis closed stays open towards the node that long: the
 * node does not notice at once (as when Redis' close is slow to reach it) and goes on publishing.
 */
class Proxy {
  constructor(redisPort) {
    this.redisPort = redisPort;
    this.conns = new Set(); // { client, upstream, subscriber, held: [] | null }
    this.holding = false;
    this.closeDelay = 0;
  }

  async start(listenPort) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.redisPort, '127.0.0.1');
      const c = { client, upstream, subscriber: false, held: null };
      this.conns.add(c);
      const end = () => { this.conns.delete(c); client.destroy(); upstream.destroy(); };
      client.on('error', end);
      upstream.on('error', end);
      client.on('close', end);
      upstream.on('close', () => (c.subscriber && this.closeDelay ? setTimeout(end, this.closeDelay) : end()));
      upstream.on('data', (d) => client.write(d));
      client.on('data', (d) => {
        if (/\r\n(s?subscribe)\r\n/i.test(d.toString('latin1'))) {
          c.subscriber = true;
          if (this.holding && !c.held) c.held = [];
        }
        if (c.held) c.held.push(d);
        else if (!upstream.destroyed) upstream.write(d);
      });
    });
    await new Promise((r) => this.server.listen(listenPort, '127.0.0.1', r));
    this.port = this.server.address().port;
    return this;
  }

  /** Redis' address of this proxy's subscriber connections (CLIENT KILL ADDR). */
  subscriberAddrs() {
    return [...this.conns].filter((c) => c.subscriber && c.upstream.localPort).map((c) => `127.0.0.1:${c.upstream.localPort}`);
  }

  release() {
    this.holding = false;
    for (const c of this.conns) {
      if (!c.held) continue;
      for (const d of c.held) c.upstream.write(d);
      c.held = null;
    }
  }

  stop() {
    for (const c of this.conns) { c.client.destroy(); c.upstream.destroy(); }
    return new Promise((r) => this.server.close(r));
  }
}

class Receiver {
  constructor(app) {
    this.sdk = new PusherServer({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1' });
    this.events = [];
    this.invalid = 0;
  }

  async start(listenPort) {
    this.server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (d) => chunks.push(d));
      req.on('end', () => {
        const wh = this.sdk.webhook({ headers: req.headers, rawBody: Buffer.concat(chunks).toString() });
        if (!wh.isValid()) {
          this.invalid++;
          res.writeHead(401);
          res.end();
          return;
        }
        this.events.push(...wh.getEvents());
        res.writeHead(200);
        res.end('ok');
      });
    });
    await new Promise((r) => this.server.listen(listenPort, '127.0.0.1', r));
    return this;
  }

  url() { return `http://127.0.0.1:${this.server.address().port}/hooks`; }

  named(name) { return this.events.filter((e) => e.name === name); }

  stop() { return new Promise((r) => this.server.close(r)); }
}

async function connect(server) {
  const c = await RawClient.connect(server, APP_A.key);
  clients.push(c);
  return c;
}

const member = (id) => ({ channelData: { user_id: id, user_info: { name: `u${id}` } } });
const sorted = (list) => [...list].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

async function users(server, channel) {
  const r = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels/${channel}/users`);
  assert.equal(r.status, 200, r.text);
  return r.json.users.map((u) => u.id).sort((a, b) => a - b);
}

async function userCount(server, channel) {
  const r = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels/${channel}`, { query: { info: 'user_count' } });
  assert.equal(r.status, 200, r.text);
  return r.json.user_count;
}

/**
 * Redis, node 1 on it, node 2 on it through a Proxy, and a webhook receiver for both; ports
 * from REVERB_E2E_PORT_BASE + offset onwards when set.
 */
async function twoNodes(offset) {
  const redis = await startRedis({ port: base ? base + offset : undefined });
  started.push(redis);
  const proxy = await new Proxy(redis.port).start(await port(offset + 1));
  started.push(proxy);
  const r = await new Receiver(APP_A).start(await port(offset + 4));
  started.push(r);
  const env = {
    REVERB_SCALING_ENABLED: 'true', REVERB_SCALING_CHANNEL: `reverb-e2e-gap-${process.pid}-${offset}`,
    REDIS_HOST: '127.0.0.1', REDIS_PASSWORD: 'null',
  };
  const apps = [{ ...APP_A, webhooks: [{ url: r.url(), event_types: ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed'] }] }];
  const project1 = await createProject({ apps, env: { ...env, REDIS_PORT: String(redis.port) } });
  const project2 = await createProject({ apps, env: { ...env, REDIS_PORT: String(proxy.port) } });
  started.push({ stop: () => project1.cleanup() }, { stop: () => project2.cleanup() });
  const node1 = await startServer({ project: project1, workers: 0, port: base ? base + offset + 2 : undefined });
  started.push(node1);
  await node1.waitForOutput(/Redis connection established/, 10000);
  const node2 = await startServer({ project: project2, workers: 0, port: base ? base + offset + 3 : undefined });
  started.push(node2);
  await node2.waitForOutput(/Redis connection established/, 10000);
  return { redis, proxy, r, node1, node2 };
}

describe('a node whose subscription was dropped while Redis stayed up', { skip }, () => {
  test('learns the members that joined and left meanwhile; webhooks stay exactly once', async () => {
    const { redis, proxy, r, node1, node2 } = await twoNodes(0);

    const ch = 'presence-gap';
    const m1 = await connect(node1);
    const m2 = await connect(node1);
    const w = await connect(node2);
    await w.subscribeOk(ch, member(100));
    await m1.subscribeOk(ch, member(1));
    await m2.subscribeOk(ch, member(2));
    await w.nextWhere((f) => f === memberAdded(ch, member(2).channelData), 5000);
    await waitFor(() => r.named('member_added').length === 3, { timeout: 5000, message: '3 member_added webhooks' });

    // Node 2's subscriber is killed by Redis; its next SUBSCRIBE waits in the proxy.
    proxy.holding = true;
    const addrs = proxy.subscriberAddrs();
    assert.equal(addrs.length, 1, `node 2 has one subscriber connection: ${addrs}`);
    assert.match(await redisCommand(redis.port, 'CLIENT', 'KILL', 'ADDR', addrs[0], 'TYPE', 'pubsub'), /^:1\r/);
    await node2.waitForOutput(/Disconnected from Redis \(subscriber/, 5000);

    // Meanwhile on node 1: user 2 leaves, user 3 joins, user 1's socket joins again as user 5,
    // user 4 opens another presence channel, and a public channel is occupied.
    m2.unsubscribe(ch);
    m1.subscribe(ch, member(5));
    await m1.nextWhere((f) => f.includes('pusher_internal:subscription_succeeded'));
    const m3 = await connect(node1);
    await m3.subscribeOk(ch, member(3));
    const m4 = await connect(node1);
    await m4.subscribeOk('presence-gap-other', member(4));
    await m4.subscribeOk('gap-public');
    assert.deepEqual(await users(node1, ch), [3, 5, 100]);
    await sleep(200);
    proxy.release();
    await node2.waitForOutput(/Redis connection established .* after/, 5000);

    // Node 2 converges: its client hears who left and who joined, and its API answers the truth.
    await waitFor(() => [memberRemoved(ch, 2), memberAdded(ch, member(3).channelData), memberRemoved(ch, 1), memberAdded(ch, member(5).channelData)]
      .every((f) => w.frames.includes(f)), { timeout: 5000, message: `member_removed and member_added on node 2: ${JSON.stringify(w.frames)}` });
    await waitFor(async () => JSON.stringify(await users(node2, ch)) === '[3,5,100]', { timeout: 5000, message: `node 2's users of ${ch}` });
    assert.equal(await userCount(node2, ch), 3);
    assert.deepEqual(await users(node2, 'presence-gap-other'), [4]);
    const y = await connect(node2);
    const { presence } = await y.subscribeOk(ch, member(101));
    assert.deepEqual(presence.ids.map(Number).sort((a, b) => a - b), [3, 5, 100, 101]);

    // The ledger of node 2 agrees with node 1's: user 3 again (on node 2) is no new member; user
    // 2 back on node 2 after its removal is one; the public channel is occupied already.
    await waitFor(() => r.named('member_removed').length === 2, { timeout: HOLD + 5000, message: 'member_removed of users 1 and 2' });
    const x3 = await connect(node2);
    await x3.subscribeOk(ch, member(3));
    const x2 = await connect(node2);
    await x2.subscribeOk(ch, member(2));
    const x4 = await connect(node2);
    await x4.subscribeOk('gap-public');
    await waitFor(() => r.named('member_added').length >= 8, { timeout: 5000, message: `member_added webhooks: ${JSON.stringify(r.events)}` });
    await sleep(1000);
    assert.deepEqual(sorted(r.named('member_added')), sorted([
      ...[100, 1, 2, 3, 5, 101, 2].map((id) => ({ name: 'member_added', channel: ch, user_id: String(id) })),
      { name: 'member_added', channel: 'presence-gap-other', user_id: '4' },
    ]));
    assert.deepEqual(sorted(r.named('member_removed')), sorted([1, 2].map((id) => ({ name: 'member_removed', channel: ch, user_id: String(id) }))));
    assert.deepEqual(sorted(r.named('channel_occupied')), sorted([ch, 'presence-gap-other', 'gap-public'].map((channel) => ({ name: 'channel_occupied', channel }))));

    // Everyone leaves node 1: the channels stay occupied by node 2's sockets, user 3 stays.
    for (const c of [m1, m3, m4]) c.close();
    await sleep(HOLD + 1500);
    assert.deepEqual(r.named('channel_vacated'), [{ name: 'channel_vacated', channel: 'presence-gap-other' }]);
    assert.deepEqual(sorted(r.named('member_removed')), sorted([2, 1, 5, 4].map((id) => ({
      name: 'member_removed', channel: id === 4 ? 'presence-gap-other' : ch, user_id: String(id),
    }))));
    assert.equal(r.invalid, 0);
  });

  test('applies what it published itself before it noticed the drop', async () => {
    const { redis, proxy, r, node1, node2 } = await twoNodes(5);
    const ch = 'presence-own';
    const w = await connect(node1);
    await w.subscribeOk(ch, member(1));
    const z = await connect(node2);
    const z2 = await connect(node2);

    // Redis closes node 2's subscriber; node 2 hears of it only 500 ms later and meanwhile
    // publishes, directly, the join of user 2 and the first subscriber of a channel: they reach
    // node 1, but their copies never come back to node 2.
    proxy.closeDelay = 500;
    const addrs = proxy.subscriberAddrs();
    assert.equal(addrs.length, 1);
    assert.match(await redisCommand(redis.port, 'CLIENT', 'KILL', 'ADDR', addrs[0], 'TYPE', 'pubsub'), /^:1\r/);
    z.subscribe(ch, member(2));
    z2.subscribe('own-public');
    await w.nextWhere((f) => f === memberAdded(ch, member(2).channelData), 5000);
    await node2.waitForOutput(/Redis connection established .* after/, 5000);

    // Node 2 applies them once subscribed again: its clients are subscribed, its members are
    // right, and the webhooks it alone reports (it is their sender) go out once.
    const ok = JSON.parse(await z.nextWhere((f) => f.includes('pusher_internal:subscription_succeeded'), 5000));
    assert.deepEqual(JSON.parse(ok.data).presence.ids.sort(), [1, 2]);
    await z2.nextWhere((f) => f.includes('pusher_internal:subscription_succeeded'), 5000);
    assert.deepEqual(await users(node2, ch), [1, 2]);
    await waitFor(() => r.named('member_added').length === 2 && r.named('channel_occupied').length === 2,
      { timeout: 5000, message: `webhooks: ${JSON.stringify(r.events)}` });
    await sleep(1000);
    assert.deepEqual(sorted(r.named('member_added')), sorted([1, 2].map((id) => ({ name: 'member_added', channel: ch, user_id: String(id) }))));
    assert.deepEqual(sorted(r.named('channel_occupied')), sorted([ch, 'own-public'].map((channel) => ({ name: 'channel_occupied', channel }))));

    // And its leaves too: user 2 leaves node 2 while it again has not noticed a drop.
    proxy.closeDelay = 500;
    const again = proxy.subscriberAddrs();
    assert.equal(again.length, 1);
    assert.match(await redisCommand(redis.port, 'CLIENT', 'KILL', 'ADDR', again[0], 'TYPE', 'pubsub'), /^:1\r/);
    z.unsubscribe(ch);
    await w.nextWhere((f) => f === memberRemoved(ch, 2), 5000);
    await waitFor(async () => JSON.stringify(await users(node2, ch)) === '[1]', { timeout: 5000, message: `node 2's users of ${ch}` });
    await waitFor(() => r.named('member_removed').length === 1, { timeout: HOLD + 5000, message: `member_removed: ${JSON.stringify(r.events)}` });
    assert.equal(r.invalid, 0);
  });
});
