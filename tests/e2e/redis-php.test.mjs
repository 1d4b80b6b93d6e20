// A mixed fleet during a migration (docs/scaling.md, docs/compatibility.md §7a): PHP Reverb 1.10.2
// (`php artisan reverb:start --debug` in one copy of the real Laravel app) and this server
// (`reverb start` in another copy, same .env credentials) on one real redis-server, in the classic
// routing. Events posted to either node's API (signed raw HTTP and Laravel's own broadcaster)
// reach subscribers on both, toOthers across nodes, client events on private and presence
// channels both ways, presence lists and the API's counts from either node, terminate from either
// node, `php artisan reverb:restart` through a cache store both read, and nothing our Go-only
// messages (`reverb-go:*`) make PHP log.
//
// Where a PHP-only fleet behaves in a way of its own (presence lists and member_added per node,
// a PHP node's API excluding only its own sockets), the test expects exactly that.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { REVERB_BIN, RawClient, api, freePort, startRedis, startServer, waitFor } from './lib/harness.mjs';
import { ENV_APP, laravelTarball, startArtisanServer } from './lib/laravel-app.mjs';

const app = { ...ENV_APP };

function missing() {
  if (spawnSync('php', ['--version']).status !== 0) return 'php is not installed (scripts/install-test-deps.sh)';
  if (spawnSync('redis-server', ['--version']).status !== 0) return 'redis-server is not installed (scripts/install-test-deps.sh)';
  if (!laravelTarball()) return 'the Laravel test app tarball was not found; set REVERB_GO_LARAVEL_TARBALL';
  if (!fs.existsSync(REVERB_BIN)) return `reverb binary not found at ${REVERB_BIN} (run make build)`;
  return '';
}
const skip = missing() || false;

// Ports: free ones, or consecutive ones from REVERB_E2E_PORT_BASE.
let nextPort = Number(process.env.REVERB_E2E_PORT_BASE || 0);
const port = () => (nextPort ? Promise.resolve(nextPort++) : freePort());

let root;
let phpDir;
let goDir;
let redis;
let watcher;
let phpNode;
let goNode;

function unpack(name) {
  const dir = path.join(root, name);
  fs.mkdirSync(dir);
  const r = spawnSync('tar', ['-xzf', laravelTarball(), '-C', dir]);
  assert.equal(r.status, 0, String(r.stderr));
  return path.join(dir, 'app');
}

// A plain SUBSCRIBE on the Redis channel: every message the nodes publish, in order.
function watchRedis(redisPort, channel) {
  const sock = net.connect(redisPort, '127.0.0.1');
  const w = { text: '', types() { return [...new Set([...w.text.matchAll(/"type":"([^"]+)"/g)].map((m) => m[1]))]; }, close() { sock.destroy(); } };
  sock.on('data', (d) => { w.text += d.toString('utf8'); });
  sock.on('error', () => {});
  sock.write(`*2\r\n$9\r\nSUBSCRIBE\r\n$${channel.length}\r\n${channel}\r\n`);
  return w;
}

async function startPhpNode(p) {
  return startArtisanServer({ dir: phpDir, env: {}, app }, { port: p, args: ['--debug'] });
}

// Laravel's `reverb` broadcaster (pusher/pusher-php-server), from the Go node's app copy, pointed
// at one node: broadcast(...)->toOthers() is the `socket` key of the payload.
function laravelBroadcast(server, channel, event, data, socket) {
  const args = ['artisan', 'mixed:broadcast', channel, event, JSON.stringify(data)];
  if (socket) args.push(`--socket=${socket}`);
  return new Promise((resolve, reject) => {
    const env = { ...process.env, REVERB_HOST: '127.0.0.1', REVERB_PORT: String(server.port), REVERB_SCHEME: 'http' };
    const p = spawn('php', args, { cwd: goDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`php artisan mixed:broadcast exited ${code}:\n${out}`))));
  });
}

const clients = [];
async function connect(server) {
  const c = await RawClient.connect(server, app.key);
  clients.push(c);
  return c;
}
const member = (id, name) => ({ user_id: id, user_info: { name } });

function phpLog() {
  try { return fs.readFileSync(path.join(phpDir, 'storage/logs/laravel.log'), 'utf8'); } catch { return ''; }
}

// Everything published before this point has been handled by the PHP node: an event posted to the
// Go node after it reaches a subscriber of the PHP node (one Redis channel, one order).
async function phpCaughtUp(phpClient, channel) {
  const tag = `barrier-${Math.random()}`;
  const r = await api(goNode, app, 'POST', `/apps/${app.id}/events`, { body: { name: 'barrier', channel, data: tag } });
  assert.equal(r.status, 200, r.text);
  await phpClient.nextWhere((f) => f.includes(tag));
}

describe('a PHP Reverb node and a reverb node on one Redis', { skip }, () => {
  before(async () => {
    if (skip) return;
    root = fs.mkdtempSync(path.join(process.env.REVERB_E2E_TMP || os.tmpdir(), 'reverb-e2e-mixed-'));
    redis = await startRedis(nextPort ? { port: await port() } : {});
    phpDir = unpack('php');
    goDir = unpack('go');
    const env = `\nREVERB_SCALING_ENABLED=true\nREDIS_HOST=127.0.0.1\nREDIS_PORT=${redis.port}\n`;
    // Deprecations logged too, as an app with LOG_DEPRECATIONS_CHANNEL set logs them.
    fs.appendFileSync(path.join(phpDir, '.env'), env + 'LOG_DEPRECATIONS_CHANNEL=single\n');
    fs.appendFileSync(path.join(goDir, '.env'), env);
    // One file cache store for both copies, as two hosts share a Redis or database store: the
    // restart flag `php artisan reverb:restart` writes is seen by both nodes.
    const cache = 'storage/framework/cache/data';
    fs.mkdirSync(path.join(phpDir, cache), { recursive: true });
    fs.rmSync(path.join(goDir, cache), { recursive: true, force: true });
    fs.symlinkSync(path.join(phpDir, cache), path.join(goDir, cache));
    fs.appendFileSync(path.join(goDir, 'routes/console.php'), `
Artisan::command('mixed:broadcast {channel} {event} {data} {--socket=}', function () {
    $payload = json_decode($this->argument('data'), true);
    if ($this->option('socket')) {
        $payload['socket'] = $this->option('socket');
    }
    Illuminate\\Support\\Facades\\Broadcast::connection('reverb')->broadcast([$this->argument('channel')], $this->argument('event'), $payload);
});
`);
    watcher = watchRedis(redis.port, 'reverb');
    phpNode = await startPhpNode(await port());
    await phpNode.waitForOutput(/Redis connection established[ .]*subscriber/);
    goNode = await startServer({ project: { dir: goDir, apps: [app], path: '', cleanup() {} }, port: await port(), debug: true });
    await goNode.waitForOutput(/Redis connection established/);
  });

  after(async () => {
    for (const c of clients) c.terminate();
    await goNode?.stop();
    await phpNode?.stop();
    watcher?.close();
    redis?.stop();
    if (root && !process.env.REVERB_E2E_KEEP) fs.rmSync(root, { recursive: true, force: true });
  });

  test('our Go-only messages make the PHP node log nothing, not even a deprecation', async () => {
    const p = await connect(phpNode);
    await p.subscribeOk('public-log');
    const g = await connect(goNode);
    await g.subscribeOk('presence-log', { channelData: member('log', 'L') });
    // A heartbeat, our presence message and the join's hello have gone over Redis...
    await waitFor(() => ['reverb-go:heartbeat', 'reverb-go:presence', 'reverb-go:hello'].every((t) => watcher.types().includes(t)),
      { timeout: 10000, message: `Go-only messages on Redis (seen: ${watcher.types()})` });
    // ...and the PHP node has handled them.
    await phpCaughtUp(p, 'public-log');
    assert.equal(phpLog(), '', 'storage/logs/laravel.log of the PHP node');
    assert.doesNotMatch(phpNode.output(), /exception|error|warning|deprecat/i, phpNode.tail());
    // Every Go-only message carries an empty application (unserialize("") is false, silently).
    const goOnly = watcher.text.split('\r\n').filter((l) => l.includes('"type":"reverb-go:'));
    assert.ok(goOnly.length >= 3);
    for (const l of goOnly) assert.ok(l.startsWith('{"application":"",'), l);
    // Reverb waits for an answer from every subscriber of the channel to a metrics request: a
    // subscriber that is not a node would hold each of the API's counts for 10 s.
    watcher.close();
    g.close();
    p.close();
  });

  test('events posted to either node reach both; toOthers across nodes', async () => {
    const p1 = await connect(phpNode);
    const p2 = await connect(phpNode);
    const g1 = await connect(goNode);
    const g2 = await connect(goNode);
    for (const c of [p1, p2, g1, g2]) await c.subscribeOk('public-ev');
    const all = { p1, p2, g1, g2 };
    const frame = (data) => JSON.stringify({ event: 'ev', data, channel: 'public-ev' });
    const post = async (server, data, except) => {
      const r = await api(server, app, 'POST', `/apps/${app.id}/events`, { body: { name: 'ev', channel: 'public-ev', data, ...(except ? { socket_id: except.socketId } : {}) } });
      assert.equal(r.status, 200, r.text);
    };
    const expectAllBut = async (data, except) => {
      for (const [name, c] of Object.entries(all)) {
        if (c === except) await c.expectNoFrame();
        else assert.equal(await c.next(), frame(data), name);
      }
    };
    // Our node excludes the socket wherever it is.
    await post(goNode, 'go-1');
    await expectAllBut('go-1');
    await post(goNode, 'go-2', p1);
    await expectAllBut('go-2', p1);
    await post(goNode, 'go-3', g1);
    await expectAllBut('go-3', g1);
    // PHP Reverb excludes only a socket of its own node (it looks socket_id up among its own
    // connections before publishing): a Go node's socket gets the event, as it would on a
    // second PHP node.
    await post(phpNode, 'php-1');
    await expectAllBut('php-1');
    await post(phpNode, 'php-2', p1);
    await expectAllBut('php-2', p1);
    await post(phpNode, 'php-3', g1);
    await expectAllBut('php-3');
    // Laravel's broadcaster, broadcast()->toOthers() with the Go node's socket, sent to the Go node.
    await laravelBroadcast(goNode, 'public-ev', 'ev', { via: 'laravel' }, p2.socketId);
    await expectAllBut('{"via":"laravel"}', p2);
    await laravelBroadcast(phpNode, 'public-ev', 'ev', { via: 'laravel' }, p2.socketId);
    await expectAllBut('{"via":"laravel"}', p2);
    for (const c of Object.values(all)) c.close();
  });

  test('client events on private and presence channels relay across nodes', async () => {
    const p = await connect(phpNode);
    const g = await connect(goNode);
    await p.subscribeOk('private-ce');
    await g.subscribeOk('private-ce');
    p.whisper('private-ce', 'client-typing', { from: 'php' });
    assert.deepEqual(JSON.parse(await g.next()), { event: 'client-typing', channel: 'private-ce', data: { from: 'php' } });
    g.whisper('private-ce', 'client-typing', { from: 'go' });
    assert.deepEqual(JSON.parse(await p.next()), { event: 'client-typing', channel: 'private-ce', data: { from: 'go' } });
    await p.expectNoFrame();
    await g.expectNoFrame();

    await p.subscribeOk('presence-ce', { channelData: member('1', 'P') });
    await g.subscribeOk('presence-ce', { channelData: member('2', 'G') });
    p.whisper('presence-ce', 'client-typing', { from: 'php' });
    assert.deepEqual(JSON.parse(await g.nextWhere((f) => f.includes('client-typing'))),
      { event: 'client-typing', channel: 'presence-ce', data: { from: 'php' }, user_id: '1' });
    g.whisper('presence-ce', 'client-typing', { from: 'go' });
    assert.deepEqual(JSON.parse(await p.nextWhere((f) => f.includes('client-typing'))),
      { event: 'client-typing', channel: 'presence-ce', data: { from: 'go' }, user_id: '2' });
    p.close();
    g.close();
  });

  test('presence: each node lists its own members; the API of either node counts both', async () => {
    watcher.close(); // (when the first test was left out)
    const channel = 'presence-room';
    const pa = await connect(phpNode);
    const ga = await connect(goNode);
    const gb = await connect(goNode);
    assert.deepEqual(await pa.subscribeOk(channel, { channelData: member('1', 'A') }),
      { presence: { count: 1, ids: ['1'], hash: { 1: { name: 'A' } } } });
    // Reverb's presence lists and member_added are per node: the PHP node's members are not in a
    // Go node's subscription_succeeded, and the other way round.
    assert.deepEqual(await ga.subscribeOk(channel, { channelData: member('2', 'B') }),
      { presence: { count: 1, ids: ['2'], hash: { 2: { name: 'B' } } } });
    await pa.expectNoFrame();
    assert.deepEqual(await gb.subscribeOk(channel, { channelData: member('3', 'C') }),
      { presence: { count: 2, ids: ['2', '3'], hash: { 2: { name: 'B' }, 3: { name: 'C' } } } });
    assert.deepEqual(JSON.parse(await ga.next()),
      { event: 'pusher_internal:member_added', data: JSON.stringify(member('3', 'C')), channel });

    const sub = await connect(phpNode);
    await sub.subscribeOk('public-count');
    for (const server of [phpNode, goNode]) {
      const get = async (p, query) => {
        const r = await api(server, app, 'GET', `/apps/${app.id}${p}`, { query });
        assert.equal(r.status, 200, `${p} on ${server === goNode ? 'Go' : 'PHP'}: ${r.text}`);
        return r.json;
      };
      const who = server === goNode ? 'Go node' : 'PHP node';
      assert.deepEqual(await get(`/channels/${channel}`, { info: 'user_count,subscription_count' }), { occupied: true, user_count: 3 }, who);
      assert.deepEqual(await get('/channels', { filter_by_prefix: 'presence-', info: 'user_count' }), { channels: { [channel]: { user_count: 3 } } }, who);
      assert.deepEqual((await get(`/channels/${channel}/users`)).users.map((u) => u.id).sort(), ['1', '2', '3'], who);
      assert.deepEqual(await get('/channels/public-count', { info: 'subscription_count' }), { occupied: true, subscription_count: 1 }, who);
      assert.deepEqual(await get('/connections'), { connections: 4 }, who);
    }

    gb.close();
    assert.deepEqual(JSON.parse(await ga.next()),
      { event: 'pusher_internal:member_removed', data: '{"user_id":"3"}', channel });
    await pa.expectNoFrame();
    sub.close();
    pa.close();
    ga.close();
    await waitFor(async () => (await api(goNode, app, 'GET', `/apps/${app.id}/connections`)).json?.connections === 0,
      { message: 'no connections left' });
  });

  // Only presence members on the PHP node: Reverb's terminate handler reads every connection's
  // user_id, and one without (a public or private channel's subscriber) stops the PHP node with
  // "Undefined array key", whichever node the terminate came from (compatibility.md §7a).
  test('terminate_connections on either node closes the user\'s sockets on both', async () => {
    for (const via of [phpNode, goNode]) {
      const p = await connect(phpNode);
      const g = await connect(goNode);
      const po = await connect(phpNode);
      const go = await connect(goNode);
      await p.subscribeOk('presence-t', { channelData: member('doomed', 'D') });
      await g.subscribeOk('presence-t', { channelData: member('doomed', 'D') });
      await po.subscribeOk('presence-t', { channelData: member('other', 'O') });
      await go.subscribeOk('presence-t', { channelData: member('other', 'O') });
      const r = await api(via, app, 'POST', `/apps/${app.id}/users/doomed/terminate_connections`, { body: {} });
      assert.equal(r.status, 200, r.text);
      await p.closed; // PHP Reverb: a bare TCP close
      assert.deepEqual(await g.closed, { code: 4009, reason: 'Connection terminated' });
      // Each node tells its own members (Reverb's presence is per node).
      for (const c of [po, go]) {
        assert.deepEqual(JSON.parse(await c.nextWhere((f) => f.includes('member_removed'))),
          { event: 'pusher_internal:member_removed', data: '{"user_id":"doomed"}', channel: 'presence-t' });
      }
      await po.expectNoFrame();
      await go.expectNoFrame();
      po.close();
      go.close();
    }
  });

  test('php artisan reverb:restart restarts both nodes; the fleet works again after', async () => {
    const p = await connect(phpNode);
    const g = await connect(goNode);
    await p.subscribeOk('public-r');
    await g.subscribeOk('public-r');
    const r = spawnSync('php', ['artisan', 'reverb:restart'], { cwd: phpDir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    // PHP Reverb stops (a process manager starts it again); our node restarts in place.
    assert.deepEqual(await g.closed, { code: 4200, reason: 'Server restarting' });
    await p.closed;
    assert.equal((await phpNode.exited).code, 0, phpNode.tail());
    phpNode = await startPhpNode(phpNode.port);
    await phpNode.waitForOutput(/Redis connection established[ .]*subscriber/);

    const p2 = await connect(phpNode);
    const g2 = await connect(goNode);
    await p2.subscribeOk('public-r');
    await g2.subscribeOk('public-r');
    for (const via of [phpNode, goNode]) {
      const res = await api(via, app, 'POST', `/apps/${app.id}/events`, { body: { name: 'after', channel: 'public-r', data: String(via.port) } });
      assert.equal(res.status, 200, res.text);
      for (const c of [p2, g2]) assert.equal(await c.next(), JSON.stringify({ event: 'after', data: String(via.port), channel: 'public-r' }));
    }
    // Neither node restarts again on the same flag.
    await p2.expectNoFrame();
    await g2.expectNoFrame();
  });

  test('the PHP node reported no exception or warning throughout', () => {
    assert.doesNotMatch(phpNode.output(), /exception|error|warning|deprecat/i, phpNode.tail());
    assert.doesNotMatch(phpLog(), /\.(ERROR|CRITICAL|ALERT|EMERGENCY):|exception/i, phpLog().slice(-3000));
    assert.doesNotMatch(goNode.output(), /panic|ERROR/, goNode.tail());
  });
});
