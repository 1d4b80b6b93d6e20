// Webhooks (Pusher's, in soketi's config shape) and Reverb's events for PHP listeners, end to end:
// the real binary posts to receivers that validate every request with the official SDKs — the
// `pusher` npm package's webhook() here, and the real pusher/pusher-php-server from the Laravel
// app of ../shared/laravel under `php -S`. Every event type with its exact fields, filters and
// headers, batching, retries after a 500, the 3 s hold of channel_vacated/member_removed and its
// cancellation, exactly once with two workers and with two nodes on a real redis-server (one of
// them killed mid-hold), the listener bridge's bodies, and config errors at start.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import PusherServer from 'pusher';

import { APP_A, RawClient, createProject, freePort, skipOnPortable, startRedis, startServer, waitFor } from './lib/harness.mjs';
import { laravelTarball } from './lib/laravel-app.mjs';
import { childPids } from './lib/supervisor-helpers.mjs';

const HOLD = 3000; // Pusher's hold of channel_vacated and member_removed

const started = [];
const clients = [];
after(async () => {
  for (const c of clients) c.terminate();
  for (const s of started.reverse()) await s.stop?.();
});

// ---------------------------------------------------------------------------
// A receiver validating with the `pusher` npm SDK.

class Receiver {
  constructor(app) {
    this.sdk = new PusherServer({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1' });
    this.requests = []; // {headers, time, events}
    this.events = [];
    this.invalid = 0;
    this.failNext = 0; // answer that many requests with 500
    this.failed = 0;
  }

  async start() {
    this.server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (d) => chunks.push(d));
      req.on('end', () => {
        const rawBody = Buffer.concat(chunks).toString();
        if (this.failNext > 0) {
          this.failNext--;
          this.failed++;
          res.writeHead(500);
          res.end('try again');
          return;
        }
        const wh = this.sdk.webhook({ headers: req.headers, rawBody });
        if (!wh.isValid()) {
          this.invalid++;
          res.writeHead(401);
          res.end('invalid');
          return;
        }
        const events = wh.getEvents();
        this.requests.push({ headers: req.headers, time: wh.getTime(), events, at: Date.now() });
        for (const e of events) this.events.push({ ...e, at: Date.now() });
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('ok');
      });
    });
    await new Promise((r) => this.server.listen(0, '127.0.0.1', r));
    started.push({ stop: () => new Promise((r) => this.server.close(r)) });
    return this;
  }

  url(p = '/pusher/webhooks') { return `http://127.0.0.1:${this.server.address().port}${p}`; }

  named(name) {
    return this.events.filter((e) => e.name === name).map(({ at, ...e }) => e); // eslint-disable-line no-unused-vars
  }

  async wait(name, n = 1, timeout = 10000) {
    await waitFor(() => this.named(name).length >= n, { timeout, message: `${n} ${name} webhook(s); got ${JSON.stringify(this.events)}` });
    return this.named(name);
  }
}

const ALL_TYPES = ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed', 'client_event', 'cache_miss', 'subscription_count'];

function appWith(extra) {
  return { ...APP_A, accept_client_events_from: 'members', ...extra };
}

async function connect(server, key = APP_A.key) {
  const c = await RawClient.connect(server, key);
  clients.push(c);
  return c;
}

const sortBy = (list) => [...list].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------

describe('webhooks on one server', () => {
  test('every event type with Pusher\'s exact fields, validated by the pusher SDK', async () => {
    const r = await new Receiver(APP_A).start();
    const server = await startServer({ apps: [appWith({ webhooks: [{ url: r.url(), event_types: ALL_TYPES }] })] });
    started.push(server);
    const a = await connect(server);
    const b = await connect(server);
    await a.subscribeOk('presence-room', { channelData: { user_id: 7, user_info: { name: 'Ann' } } });
    await b.subscribeOk('presence-room', { channelData: { user_id: '8', user_info: { name: 'Bob' } } });
    b.whisper('presence-room', 'client-typing', { x: 1, s: 'é/"' });
    await a.nextWhere((f) => f.includes('client-typing'));
    await a.subscribeOk('private-orders');
    a.whisper('private-orders', 'client-note', JSON.stringify({ note: 'hi' }));
    await a.subscribeOk('cache-prices');

    assert.deepEqual(sortBy(await r.wait('member_added', 2)), sortBy([
      { name: 'member_added', channel: 'presence-room', user_id: '7' },
      { name: 'member_added', channel: 'presence-room', user_id: '8' },
    ]));
    assert.deepEqual(sortBy(await r.wait('client_event', 2)), sortBy([
      { name: 'client_event', channel: 'presence-room', event: 'client-typing', data: '{"x":1,"s":"é/\\""}', socket_id: b.socketId, user_id: '8' },
      { name: 'client_event', channel: 'private-orders', event: 'client-note', data: '{"note":"hi"}', socket_id: a.socketId },
    ]));
    assert.deepEqual(await r.wait('cache_miss'), [{ name: 'cache_miss', channel: 'cache-prices' }]);
    assert.deepEqual(sortBy(await r.wait('channel_occupied', 3)), sortBy(['presence-room', 'private-orders', 'cache-prices'].map((channel) => ({ name: 'channel_occupied', channel }))));
    // Not on presence channels (as Pusher).
    assert.deepEqual(sortBy(await r.wait('subscription_count', 2)), sortBy([
      { name: 'subscription_count', channel: 'private-orders', subscription_count: 1 },
      { name: 'subscription_count', channel: 'cache-prices', subscription_count: 1 },
    ]));
    for (const req of r.requests) {
      assert.equal(req.headers['x-pusher-key'], APP_A.key);
      assert.equal(req.headers['content-type'], 'application/json');
      assert.ok(Math.abs(req.time.getTime() - req.at) < 5000, 'time_ms is when the webhook was made');
    }

    // b leaves: member_removed after the 3 s hold; the channel stays occupied (a is there).
    const closedAt = Date.now();
    b.close();
    const [removed] = await r.wait('member_removed');
    assert.deepEqual(removed, { name: 'member_removed', channel: 'presence-room', user_id: '8' });
    const removedAt = r.events.find((e) => e.name === 'member_removed').at;
    assert.ok(removedAt - closedAt >= HOLD - 300, `held ${removedAt - closedAt} ms`);
    a.unsubscribe('private-orders');
    assert.deepEqual(await r.wait('channel_vacated'), [{ name: 'channel_vacated', channel: 'private-orders' }]);
    await waitFor(() => r.named('subscription_count').some((e) => e.subscription_count === 0), { timeout: 5000, message: 'count 0' });
    assert.equal(r.invalid, 0);
    await server.stop();
  });

  test('filters and custom headers; a 500 is retried with backoff; /metrics counts it', async () => {
    const r = await new Receiver(APP_A).start();
    r.failNext = 2;
    const metricsPort = await freePort();
    const server = await startServer({
      apps: [appWith({
        webhooks: [{
          url: r.url(), event_types: ['channel_occupied'],
          filter: { channel_name_starts_with: 'private-', channel_name_ends_with: '-beta' },
          headers: { 'X-Team': 'blue', 'X-Pusher-Signature': 'cannot replace the signature' },
        }],
      })],
      args: ['--metrics', `127.0.0.1:${metricsPort}`],
    });
    started.push(server);
    const c = await connect(server);
    for (const ch of ['private-a', 'news-beta', 'private-a-beta']) await c.subscribeOk(ch);
    const got = await r.wait('channel_occupied', 1, 15000);
    assert.deepEqual(got, [{ name: 'channel_occupied', channel: 'private-a-beta' }]);
    assert.equal(r.failed, 2);
    assert.equal(r.requests[0].headers['x-team'], 'blue');
    await sleep(500);
    assert.equal(r.named('channel_occupied').length, 1, 'filtered channels send nothing');
    const metrics = await new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: metricsPort, path: '/metrics', agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
    assert.match(metrics, /reverb_webhook_failed_attempts_total\{app="123456",target="webhooks"\} 2/);
    assert.match(metrics, /reverb_webhook_events_total\{app="123456",target="webhooks"\} 1/);
    assert.match(metrics, /reverb_webhook_events_dropped_total\{app="123456",reason="queue_full",target="webhooks"\} 0/);
    await server.stop();
  });

  test('batching: a burst goes out in few requests of at most 100 events, in order', async () => {
    const r = await new Receiver(APP_A).start();
    const server = await startServer({ apps: [appWith({ webhooks: [{ url: r.url(), event_types: ['client_event'] }] })] });
    started.push(server);
    const a = await connect(server);
    const b = await connect(server);
    await a.subscribeOk('private-burst');
    await b.subscribeOk('private-burst');
    for (let i = 0; i < 250; i++) a.whisper('private-burst', 'client-n', { i });
    await r.wait('client_event', 250);
    assert.deepEqual(r.named('client_event').map((e) => JSON.parse(e.data).i), [...Array(250).keys()]);
    assert.ok(r.requests.length <= 10, `${r.requests.length} requests`);
    assert.ok(r.requests.every((q) => q.events.length <= 100));
    await server.stop();
  });

  test('hold and cancel: a user and a channel back within 3 s send nothing; gone for good, both after the hold', async () => {
    const r = await new Receiver(APP_A).start();
    const server = await startServer({ apps: [appWith({ webhooks: [{ url: r.url(), event_types: ALL_TYPES }] })] });
    started.push(server);
    const c = await connect(server);
    await c.subscribeOk('presence-hold', { channelData: { user_id: 5 } });
    await r.wait('member_added');
    c.close();
    await c.waitClosed();
    // A page reload: the same user back on a new socket.
    const c2 = await connect(server);
    await c2.subscribeOk('presence-hold', { channelData: { user_id: 5 } });
    await sleep(HOLD + 1500);
    assert.deepEqual(r.named('channel_vacated'), []);
    assert.deepEqual(r.named('member_removed'), []);
    assert.equal(r.named('channel_occupied').length, 1);
    assert.equal(r.named('member_added').length, 1);
    c2.close();
    await r.wait('member_removed');
    await r.wait('channel_vacated');
    await server.stop();
  });

  test('a stop (SIGTERM) reports its clients\' departures after the hold, member_removed before channel_vacated', async () => {
    const r = await new Receiver(APP_A).start();
    const server = await startServer({ apps: [appWith({ webhooks: [{ url: r.url(), event_types: ALL_TYPES }] })] });
    started.push(server);
    const c = await connect(server);
    await c.subscribeOk('presence-stop', { channelData: { user_id: 11 } });
    const p = await connect(server);
    await p.subscribeOk('stop-public');
    await r.wait('member_added');
    await r.wait('channel_occupied', 2);
    const t0 = performance.now();
    const exit = await server.stop({ timeout: 30000 });
    assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}`);
    assert.ok(performance.now() - t0 >= HOLD - 500, 'the departures were held before they were sent');
    assert.deepEqual(r.named('member_removed'), [{ name: 'member_removed', channel: 'presence-stop', user_id: '11' }]);
    assert.deepEqual(sortBy(r.named('channel_vacated')), sortBy([
      { name: 'channel_vacated', channel: 'presence-stop' },
      { name: 'channel_vacated', channel: 'stop-public' },
    ]));
    const order = r.events.filter((e) => e.channel === 'presence-stop').map((e) => e.name);
    assert.deepEqual(order, ['channel_occupied', 'member_added', 'member_removed', 'channel_vacated']);
  });

  test('a stop while a restart drains (SIGTERM right after SIGHUP) still reports the drained clients\' departures', async () => {
    const r = await new Receiver(APP_A).start();
    const server = await startServer({ drainWindow: '1500ms', apps: [appWith({ webhooks: [{ url: r.url(), event_types: ALL_TYPES }] })] });
    started.push(server);
    const c = await connect(server);
    await c.subscribeOk('presence-restop', { channelData: { user_id: 12 } });
    await r.wait('member_added');
    server.proc.kill('SIGHUP');
    await server.waitForOutput(/Draining generation 1/, 10000);
    const exit = await server.stop({ timeout: 30000 });
    assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}`);
    assert.deepEqual(r.named('member_removed'), [{ name: 'member_removed', channel: 'presence-restop', user_id: '12' }]);
    assert.deepEqual(r.named('channel_vacated'), [{ name: 'channel_vacated', channel: 'presence-restop' }]);
  });

  test('config errors name the key path and stop the start', async () => {
    for (const [webhooks, want] of [
      [[{ url: 'ftp://hooks.test', event_types: ['client_event'] }], /reverb\.apps\.apps\.0\.webhooks\.0\.url: "ftp:\/\/hooks\.test" is not an http:\/\/ or https:\/\/ URL/],
      [[{ url: 'https://hooks.test', event_types: ['client_event'], filter: 'private-' }], /reverb\.apps\.apps\.0\.webhooks\.0\.filter: "private-" is not an array/],
      [[{ url: 'https://hooks.test', event_types: ['channel_created'] }], /reverb\.apps\.apps\.0\.webhooks\.0\.event_types\.0: "channel_created" is not a webhook event type/],
    ]) {
      const s = await startServer({ apps: [appWith({ webhooks })], expectFailure: true });
      const res = await s.exited;
      assert.notEqual(res.code, 0);
      assert.match(s.output(), want);
    }
  });
});

describe('exactly once with two workers', () => {
  test('occupied, vacated, added, removed once; subscription counts cluster-wide', async () => {
    const r = await new Receiver(APP_A).start();
    const server = await startServer({ apps: [appWith({ webhooks: [{ url: r.url(), event_types: ALL_TYPES }] })], workers: 2 });
    started.push(server);
    const socks = [];
    for (let i = 0; i < 6; i++) {
      const c = await connect(server);
      await c.subscribeOk('news');
      await c.subscribeOk('presence-team', { channelData: { user_id: 1 } });
      socks.push(c);
    }
    await r.wait('subscription_count', 6);
    for (const c of socks) c.close();
    await r.wait('channel_vacated', 2, 10000);
    await r.wait('member_removed');
    await sleep(1000);
    assert.deepEqual(sortBy(r.named('channel_occupied')), sortBy([{ name: 'channel_occupied', channel: 'news' }, { name: 'channel_occupied', channel: 'presence-team' }]));
    assert.deepEqual(sortBy(r.named('channel_vacated')), sortBy([{ name: 'channel_vacated', channel: 'news' }, { name: 'channel_vacated', channel: 'presence-team' }]));
    assert.deepEqual(r.named('member_added'), [{ name: 'member_added', channel: 'presence-team', user_id: '1' }]);
    assert.deepEqual(r.named('member_removed'), [{ name: 'member_removed', channel: 'presence-team', user_id: '1' }]);
    const counts = r.named('subscription_count').map((e) => e.subscription_count).sort((x, y) => x - y);
    assert.deepEqual(counts, [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6]);
    await server.stop();
  });
});

describe('a worker killed while holding vacates', () => {
  test('the supervisor\'s notice makes the other worker report its channels, users and holds once', { skip: skipOnPortable('no worker processes to kill (every server is in the one process)') }, async () => {
    const r = await new Receiver(APP_A).start();
    const server = await startServer({ apps: [appWith({ webhooks: [{ url: r.url(), event_types: ALL_TYPES }] })], workers: 2 });
    started.push(server);
    await waitFor(() => childPids(server.proc.pid).length === 2, { timeout: 10000, message: 'two workers' });
    const socks = [];
    for (let i = 0; i < 6; i++) {
      const c = await connect(server);
      await c.subscribeOk(`solo-${i}`);
      await c.subscribeOk(`held-${i}`);
      await c.subscribeOk('presence-crew', { channelData: { user_id: 100 + i } });
      socks.push(c);
    }
    await r.wait('channel_occupied', 13);
    await r.wait('member_added', 6);
    // Every socket leaves held-i: each worker now holds vacates for 3 s...
    for (let i = 0; i < 6; i++) socks[i].unsubscribe(`held-${i}`);
    // Handled once each socket answered a later ping (member frames may come first).
    for (const c of socks) c.send({ event: 'pusher:ping' });
    await Promise.all(socks.map((c) => c.nextWhere((f) => f === '{"event":"pusher:pong"}')));
    // ...and one worker dies holding its share.
    process.kill(childPids(server.proc.pid)[0], 'SIGKILL');
    await server.waitForOutput(/died: killed by SIGKILL/, 5000);
    await waitFor(() => socks.some((c) => c.closeInfo), { timeout: 5000, message: 'the dead worker\'s sockets closed' });
    await sleep(500);
    const dead = socks.map((c, i) => (c.closeInfo ? i : -1)).filter((i) => i >= 0);
    const alive = socks.map((c, i) => (c.closeInfo ? -1 : i)).filter((i) => i >= 0);
    assert.ok(dead.length > 0 && alive.length > 0, `sockets spread over both workers (dead ${dead}, alive ${alive})`);
    const wantVacated = [...Array(6).keys()].map((i) => `held-${i}`).concat(dead.map((i) => `solo-${i}`));
    await r.wait('channel_vacated', wantVacated.length, 15000);
    await r.wait('member_removed', dead.length, 10000);
    await sleep(1000);
    assert.deepEqual(r.named('channel_vacated').map((e) => e.channel).sort(), wantVacated.sort());
    assert.deepEqual(r.named('member_removed').map((e) => e.user_id).sort(), dead.map((i) => String(100 + i)).sort());
    assert.equal(r.named('channel_occupied').length, 13, 'nothing re-occupied');
    await server.stop();
  });
});

// ---------------------------------------------------------------------------
// Two nodes on a real redis-server.

const haveRedis = spawnSync('redis-server', ['--version']).status === 0;

describe('exactly once with two nodes on Redis', { skip: haveRedis ? false : 'redis-server not installed (CI installs it)' }, () => {
  test('each event once; a node killed while holding a vacate is claimed by the other, which reports it', async () => {
    const redis = await startRedis();
    started.push(redis);
    const redisPort = redis.port;
    const r = await new Receiver(APP_A).start();
    const project = await createProject({
      apps: [appWith({ webhooks: [{ url: r.url(), event_types: ALL_TYPES }] })],
      env: {
        REVERB_SCALING_ENABLED: 'true', REVERB_SCALING_CHANNEL: `reverb-e2e-wh-${process.pid}`,
        REDIS_HOST: '127.0.0.1', REDIS_PORT: String(redisPort), REDIS_PASSWORD: 'null',
      },
    });
    started.push({ stop: () => project.cleanup() });
    const node1 = await startServer({ project, workers: 1 });
    started.push(node1);
    await node1.waitForOutput(/Redis connection established/, 10000);
    // Node 2 serves in one process: SIGKILL ends it without a goodbye.
    const node2 = await startServer({ project, workers: 0 });
    started.push(node2);
    await node2.waitForOutput(/Redis connection established/, 10000);

    const a1 = await connect(node1);
    const a2 = await connect(node2);
    await a1.subscribeOk('shared');
    await a2.subscribeOk('shared');
    await a1.subscribeOk('presence-both', { channelData: { user_id: 3 } });
    await a2.subscribeOk('presence-both', { channelData: { user_id: 3 } });
    await a2.subscribeOk('presence-both', { channelData: { user_id: 3 } }); // again: nothing new
    await a2.subscribeOk('only-node2');
    await a2.subscribeOk('held-node2');
    await r.wait('channel_occupied', 4);
    await r.wait('member_added');
    a1.close(); // node 1's sockets go: the channels stay occupied on node 2
    await a1.waitClosed();
    a2.unsubscribe('held-node2'); // node 2 holds this vacate...
    await a2.expectNoFrame();
    await node2.stop({ signal: 'SIGKILL' }); // ...and dies holding it
    // Node 1 forgets node 2 after three missed heartbeats (15 s), claims it, and reports
    // everything node 2 held, after the hold.
    await r.wait('channel_vacated', 4, 40000);
    await r.wait('member_removed', 1, 10000);
    await sleep(1000);
    assert.deepEqual(sortBy(r.named('channel_occupied')), sortBy(['shared', 'presence-both', 'only-node2', 'held-node2'].map((channel) => ({ name: 'channel_occupied', channel }))));
    assert.deepEqual(sortBy(r.named('channel_vacated')), sortBy(['shared', 'presence-both', 'only-node2', 'held-node2'].map((channel) => ({ name: 'channel_vacated', channel }))));
    assert.deepEqual(r.named('member_added'), [{ name: 'member_added', channel: 'presence-both', user_id: '3' }]);
    assert.deepEqual(r.named('member_removed'), [{ name: 'member_removed', channel: 'presence-both', user_id: '3' }]);
    assert.equal(r.invalid, 0);
    await node1.stop();
  });
});

// ---------------------------------------------------------------------------
// The real pusher/pusher-php-server as the receiver.

const tarball = laravelTarball();
const havePhp = spawnSync('php', ['-r', 'exit(extension_loaded("curl") && extension_loaded("mbstring") ? 0 : 1);']).status === 0;
const phpSkip = !tarball ? 'the Laravel app tarball of ../shared/laravel is not there (set REVERB_GO_LARAVEL_TARBALL)'
  : !havePhp ? 'php with curl and mbstring not installed (scripts/install-test-deps.sh installs them)' : false;

const PHP_RECEIVER = `<?php
// A webhook endpoint validating with the real pusher/pusher-php-server.
require getenv('PUSHER_AUTOLOAD');
$pusher = new Pusher\\Pusher(getenv('HOOK_KEY'), getenv('HOOK_SECRET'), getenv('HOOK_APP_ID'));
$body = file_get_contents('php://input');
$headers = [
    'X-Pusher-Key' => $_SERVER['HTTP_X_PUSHER_KEY'] ?? '',
    'X-Pusher-Signature' => $_SERVER['HTTP_X_PUSHER_SIGNATURE'] ?? '',
];
try {
    $webhook = $pusher->webhook($headers, $body);
} catch (Pusher\\PusherException $e) {
    http_response_code(401);
    echo $e->getMessage();
    return;
}
file_put_contents(getenv('HOOK_OUT'), json_encode(['time_ms' => $webhook->get_time_ms(), 'events' => $webhook->get_events()]) . "\\n", FILE_APPEND | LOCK_EX);
echo 'ok';
`;

describe('a receiver on pusher/pusher-php-server', { skip: phpSkip }, () => {
  test('Pusher::webhook() accepts every request; a forged one gets its exception', async () => {
    const dir = fs.mkdtempSync(path.join(process.env.REVERB_E2E_TMP || os.tmpdir(), 'reverb-e2e-php-hook-'));
    started.push({ stop: () => fs.rmSync(dir, { recursive: true, force: true }) });
    const un = spawnSync('tar', ['-xzf', tarball, '-C', dir]);
    assert.equal(un.status, 0, String(un.stderr));
    fs.writeFileSync(path.join(dir, 'router.php'), PHP_RECEIVER);
    const out = path.join(dir, 'events.jsonl');
    const port = await freePort();
    const php = spawn('php', ['-S', `127.0.0.1:${port}`, 'router.php'], {
      cwd: dir, stdio: 'ignore',
      env: { ...process.env, PUSHER_AUTOLOAD: path.join(dir, 'app/vendor/autoload.php'), HOOK_KEY: APP_A.key, HOOK_SECRET: APP_A.secret, HOOK_APP_ID: APP_A.id, HOOK_OUT: out },
    });
    started.push({ stop: () => php.kill('SIGKILL') });
    await waitFor(() => new Promise((res) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => { s.destroy(); res(true); });
      s.on('error', () => res(false));
    }), { timeout: 10000, message: 'php -S up' });

    const server = await startServer({ apps: [appWith({ webhooks: [{ url: `http://127.0.0.1:${port}/hooks`, event_types: ['channel_occupied', 'member_added', 'client_event'] }] })] });
    started.push(server);
    const a = await connect(server);
    const b = await connect(server);
    await a.subscribeOk('presence-php', { channelData: { user_id: 11 } });
    await b.subscribeOk('presence-php', { channelData: { user_id: 12 } });
    a.whisper('presence-php', 'client-hello', { from: 'ünï' });
    const read = () => (fs.existsSync(out) ? fs.readFileSync(out, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);
    await waitFor(() => read().flatMap((b2) => b2.events).length >= 4, { timeout: 10000, message: `4 events through the PHP SDK; got ${JSON.stringify(read())}` });
    const events = read().flatMap((b2) => b2.events);
    assert.deepEqual(sortBy(events), sortBy([
      { name: 'channel_occupied', channel: 'presence-php' },
      { name: 'member_added', channel: 'presence-php', user_id: '11' },
      { name: 'member_added', channel: 'presence-php', user_id: '12' },
      { name: 'client_event', channel: 'presence-php', event: 'client-hello', data: '{"from":"ünï"}', socket_id: a.socketId, user_id: '11' },
    ]));
    for (const b2 of read()) assert.ok(Math.abs(b2.time_ms - Date.now()) < 60000);
    // The receiver really checks: a forged signature is refused by the SDK.
    const forged = await fetch(`http://127.0.0.1:${port}/hooks`, {
      method: 'POST', headers: { 'X-Pusher-Key': APP_A.key, 'X-Pusher-Signature': 'f'.repeat(64), 'Content-Type': 'application/json' },
      body: '{"time_ms":1,"events":[]}',
    });
    assert.equal(forged.status, 401);
    assert.match(await forged.text(), /invalid signature/);
    await server.stop();
  });
});

// ---------------------------------------------------------------------------
// Reverb's events for PHP listeners: the Go sender's batches. (The companion package's route,
// which rebuilds Reverb's event classes from them, is tested with the package itself.)

describe('the listener bridge', () => {
  test('posts Reverb\'s five events, signed and batched, in the bridge\'s format', async () => {
    const r = await new Receiver(APP_A).start();
    const server = await startServer({
      apps: [appWith({ ping_interval: 1, listeners: { url: r.url('/reverb-go/events'), events: ['message_received', 'message_sent', 'channel_created', 'channel_removed', 'connection_pruned'] } })],
      pingSweep: '1s',
    });
    started.push(server);
    const c = await RawClient.connect(server, APP_A.key, { origin: 'https://shop.test' });
    clients.push(c);
    const d = await RawClient.connect(server, APP_A.key);
    clients.push(d);
    await c.subscribeOk('private-chat');
    await d.subscribeOk('private-chat');
    c.whisper('private-chat', 'client-msg', { text: 'hi' });
    await d.nextWhere((f) => f.includes('client-msg'));
    const whisper = JSON.stringify({ event: 'client-msg', channel: 'private-chat', data: { text: 'hi' } });
    await waitFor(() => r.named('message_received').some((e) => e.message === whisper), { timeout: 10000, message: 'the whisper as message_received' });
    const got = r.named('message_received').find((e) => e.message === whisper);
    assert.deepEqual(got, { name: 'message_received', app_id: APP_A.id, socket_id: c.socketId, origin: 'https://shop.test', channel: 'private-chat', message: whisper });
    // The delivery of the whisper to d: one message_sent per delivery.
    const frame = d.frames.find((f) => f.includes('client-msg'));
    await waitFor(() => r.named('message_sent').some((e) => e.socket_id === d.socketId && e.message === frame), { timeout: 10000, message: 'message_sent of the delivery' });
    const sent = r.named('message_sent').find((e) => e.socket_id === d.socketId && e.message === frame);
    assert.deepEqual(sent, { name: 'message_sent', app_id: APP_A.id, socket_id: d.socketId, origin: null, channel: 'private-chat', message: frame });
    assert.deepEqual(await r.wait('channel_created'), [{ name: 'channel_created', app_id: APP_A.id, channel: 'private-chat' }]);
    // d never answers pusher:ping: pruned (the sweep runs every second, ping_interval 1).
    c.close();
    await c.waitClosed();
    await waitFor(() => r.named('connection_pruned').length >= 1, { timeout: 15000, message: 'connection_pruned' });
    const pruned = r.named('connection_pruned');
    assert.ok(pruned.some((e) => e.socket_id === d.socketId && e.app_id === APP_A.id), JSON.stringify(pruned));
    // Reverb's ChannelRemoved is not held.
    assert.deepEqual(await r.wait('channel_removed'), [{ name: 'channel_removed', app_id: APP_A.id, channel: 'private-chat' }]);
    assert.equal(r.invalid, 0);
    for (const q of r.requests) assert.equal(q.headers['x-pusher-key'], APP_A.key);
    await server.stop();
  });
});
