// The companion package (reverb-go/laravel) on a real Laravel 11 app with
// Laravel Reverb 1.10.2 installed: Composer installs the package from this
// repository (path repository, offline), and then the usual commands run
// this server. php artisan reverb:start (exec'ed into the binary) serves
// pusher-js and Laravel's own broadcast() through the Pusher PHP SDK (its
// errors reach Laravel as BroadcastException with Reverb's messages); a
// custom ApplicationManager driver serves its apps, including one added
// after start, and so does a provider bound to Reverb's contract; php artisan reverb:restart moves clients to a new
// generation; the events route dispatches Reverb's event classes to the
// app's listeners.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import PusherServer from 'pusher';

import { RawClient, freePort, httpGet, pusherClient, stopAll, waitConnected, waitFor } from './lib/harness.mjs';
import { laravelMissing, prepareLaravelApp, startArtisanServer } from './lib/laravel-app.mjs';

const missing = laravelMissing();
let laravel;
const servers = [];

before(async () => {
  if (missing) return;
  laravel = await prepareLaravelApp();
  // Published as a user would, then a shorter drain window so stopping a
  // test server takes no 10 s.
  const r = await laravel.artisan(['vendor:publish', '--tag=reverb-go-config', '--no-interaction']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const cfg = laravel.read('config/reverb-go.php');
  assert.match(cfg, /'start_options' => \[\]/);
  laravel.write('config/reverb-go.php', cfg.replace("'start_options' => []", "'start_options' => ['--drain-window=300ms']"));
}, { timeout: 180000 });

after(async () => {
  await stopAll();
  for (const s of servers) await s.stop();
  laravel?.cleanup();
});

async function start(opts = {}) {
  const s = await startArtisanServer(laravel, opts);
  if (!opts.expectFailure) servers.push(s);
  return s;
}

/** php artisan fixture:broadcast: Laravel's reverb broadcaster (Pusher PHP SDK) to our server. */
async function broadcast(server, channel, event, data, app) {
  const args = ['fixture:broadcast', channel, event, JSON.stringify(data)];
  if (app) args.push(`--app-id=${app.id}`, `--key=${app.key}`, `--secret=${app.secret}`);
  const r = await laravel.artisan(args, { env: { REVERB_HOST: '127.0.0.1', REVERB_PORT: String(server.port), REVERB_SCHEME: 'http' } });
  assert.equal(r.code, 0, `fixture:broadcast failed:\n${r.stdout}${r.stderr}`);
}

function nextEvent(channel, name, timeout = 10000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${name} on ${channel.name} within ${timeout} ms`)), timeout);
    channel.bind(name, (d) => { clearTimeout(t); resolve(d); });
  });
}

async function subscribed(pusher, name) {
  const ch = pusher.subscribe(name);
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no subscription_succeeded on ${name}`)), 10000);
    ch.bind('pusher:subscription_succeeded', () => { clearTimeout(t); resolve(); });
  });
  return ch;
}

/** The pid of the process listening on port (from /proc/net/tcp). */
function listenerPid(port) {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(f, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[1]?.endsWith(':' + hex) && cols[3] === '0A') inodes.add(cols[9]);
    }
  }
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1])) return Number(pid);
      }
    } catch { /* gone or not ours */ }
  }
  return null;
}

test('php artisan reverb:start runs the binary in its own process and serves pusher-js and broadcast(); reverb:restart moves clients to a new generation', { skip: missing || false, timeout: 120000 }, async (t) => {
  const server = await start({ args: ['-n'] });
  assert.match(server.output(), new RegExp(`Starting server on 127\\.0\\.0\\.1:${server.port}`));
  assert.match(server.output(), /workers? ready/);
  if (process.platform === 'linux') {
    assert.equal(listenerPid(server.port), server.proc.pid, 'the supervisor listens in the artisan process itself (exec)');
  }

  const p = pusherClient(server, laravel.app);
  const firstSocket = await waitConnected(p, 10000);
  const ch = await subscribed(p, 'orders');
  const got = nextEvent(ch, 'OrderShipped');
  await broadcast(server, 'orders', 'OrderShipped', { id: 1 });
  assert.deepEqual(await got, { id: 1 });

  // Reverb's own command writes its flag; the server starts generation 2
  // and moves the clients over.
  const r = await laravel.artisan(['reverb:restart']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /Broadcasting Reverb restart signal/);
  await server.waitForOutput(/Generation 2 ready/, 30000);
  await waitFor(() => p.connection.state === 'connected' && p.connection.socket_id !== firstSocket, { timeout: 15000, message: 'pusher-js to reconnect to generation 2' });
  await waitFor(() => ch.subscribed, { timeout: 10000, message: 'resubscription' });
  const again = nextEvent(ch, 'OrderShipped');
  await broadcast(server, 'orders', 'OrderShipped', { id: 2 });
  assert.deepEqual(await again, { id: 2 });
  t.diagnostic(`socket ${firstSocket} → ${p.connection.socket_id}`);

  p.disconnect();
  const res = await server.stop();
  assert.deepEqual(res, { code: 0, signal: null }, server.tail());
});

test('Laravel\'s broadcaster gets the HTTP API\'s errors as BroadcastException with Reverb\'s messages', { skip: missing || false, timeout: 120000 }, async () => {
  const server = await start({ args: ['-n'] });
  const env = { REVERB_HOST: '127.0.0.1', REVERB_PORT: String(server.port), REVERB_SCHEME: 'http' };
  // The messages PHP Reverb 1.10.2 gives for the same calls: Laravel wraps
  // the SDK's ApiErrorException as "Pusher error: <body>.".
  const cases = [
    [['--secret=not-the-secret'], '{"a":1}', 'Pusher error: Authentication signature invalid..'],
    [['--app-id=999'], '{"a":1}', 'Pusher error: No matching application for ID [999]..'],
    [[], JSON.stringify({ big: 'y'.repeat(20000) }), 'Pusher error: Payload too large..'],
  ];
  for (const [opts, data, message] of cases) {
    const r = await laravel.artisan(['fixture:broadcast', 'orders', 'OrderShipped', data, ...opts, '-v'], { env }); // -v: the exception's class
    const out = r.stdout + r.stderr;
    assert.notEqual(r.code, 0, out);
    assert.match(out, /Illuminate\\Broadcasting\\BroadcastException/, out);
    assert.ok(out.includes(message), `${message} not in:\n${out}`);
  }
  const ok = await laravel.artisan(['fixture:broadcast', 'orders', 'OrderShipped', '{"a":1}'], { env });
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const res = await server.stop();
  assert.deepEqual(res, { code: 0, signal: null }, server.tail());
});

test('run as artisan\'s child (no pcntl_exec, as on Windows), the server stops by itself when artisan is killed outright', { skip: missing || process.platform !== 'linux', timeout: 60000 }, async () => {
  const server = await start({ env: { REVERB_GO_EXEC: 'false' } });
  const child = listenerPid(server.port);
  assert.ok(child && child !== server.proc.pid, 'the server is a child of artisan');

  // taskkill /F or SIGKILL: artisan forwards nothing.
  server.proc.kill('SIGKILL');
  await server.waitForOutput(/php artisan reverb:start \(process \d+\) has exited: gracefully terminating connections/, 10000);
  const gone = () => {
    try {
      return fs.readFileSync(`/proc/${child}/stat`, 'utf8').split(') ')[1].startsWith('Z'); // exited, not reaped
    } catch {
      return true;
    }
  };
  await waitFor(() => gone() && listenerPid(server.port) === null, { timeout: 15000, message: 'the orphaned server to exit and free its port' });
});

test('a custom ApplicationManager driver serves its apps, one added after start is served without a restart, and a failing provider keeps the last good apps', { skip: missing || false, timeout: 120000 }, async (t) => {
  const acme = { id: '1001', key: 'acme-key', secret: 'acme-secret', allowed_origins: ['*'] };
  const globex = { id: '1002', key: 'globex-key', secret: 'globex-secret', allowed_origins: ['*'] };
  const tenants = (list) => laravel.write('storage/app/tenants.json', JSON.stringify(list.map(({ id, key, secret }) => ({ app_id: id, key, secret }))));
  laravel.write('config/reverb.php', "<?php\n\nreturn ['apps' => ['provider' => 'tenants']];\n");
  t.after(() => fs.rmSync(path.join(laravel.dir, 'config/reverb.php')));

  // A provider failing at start: a clear error, no server.
  laravel.write('storage/app/tenants.json', JSON.stringify({ fail: 'SQLSTATE[HY000] [2002] Connection refused' }));
  const failed = await start({ expectFailure: true });
  const res = await failed.exited;
  assert.equal(res.code, 1, failed.tail());
  assert.match(failed.output(), /php artisan reverb:apps --json \(.*artisan reverb:apps --json.*\): exit status 1: reverb:apps: the application provider failed: RuntimeException: SQLSTATE\[HY000\] \[2002\] Connection refused/);

  tenants([acme]);
  const server = await start({ apps: [acme, globex] });
  const a = pusherClient(server, acme);
  const chA = await subscribed(a, 'news');
  const gotA = nextEvent(chA, 'Headline');
  await broadcast(server, 'news', 'Headline', { t: 'acme' }, acme);
  assert.deepEqual(await gotA, { t: 'acme' });

  // A tenant created while the server runs: its first client is served.
  tenants([acme, globex]);
  const g = pusherClient(server, globex);
  await waitConnected(g, 30000);
  const chG = await subscribed(g, 'news');
  const gotG = nextEvent(chG, 'Headline');
  await broadcast(server, 'news', 'Headline', { t: 'globex' }, globex);
  assert.deepEqual(await gotG, { t: 'globex' });
  assert.match(server.output(), /apps: now serving app_id 1002 \(key globex-key\)/);


  // The config app is not a tenant: refused as Reverb refuses unknown keys
  // (after one more look at the provider).
  const stranger = await RawClient.connect(server, laravel.app.key, { expectEstablished: false });
  await stranger.expectFrame({ event: 'pusher:error', data: JSON.stringify({ code: 4001, message: 'Application does not exist' }) }, 30000);
  assert.equal((await stranger.closed).code, 4001);

  // The provider fails at a restart: the last good apps stay.
  laravel.write('storage/app/tenants.json', JSON.stringify({ fail: 'database is down' }));
  // pusher-js says subscription_succeeded again once it resubscribed after the drain's close.
  let resubscribed = false;
  chG.bind('pusher:subscription_succeeded', () => { resubscribed = true; });
  const r = await laravel.artisan(['reverb:restart']);
  assert.equal(r.code, 0);
  await server.waitForOutput(/Restart: php artisan reverb:apps --json .*database is down.*keeping the 2 app\(s\) of the last successful run/, 30000);
  await server.waitForOutput(/Generation 2 ready/, 30000);
  // Broadcast once globex is subscribed on the new generation: an event
  // published while pusher-js is between its 4200 close and its
  // resubscription is not for it (Pusher replays nothing).
  await server.waitForOutput(/Generation 1 gone/, 30000);
  await waitFor(() => resubscribed, { timeout: 15000, message: 'globex subscribed again on generation 2' });
  const again = nextEvent(chG, 'Headline');
  await broadcast(server, 'news', 'Headline', { t: 'still here' }, globex);
  assert.deepEqual(await again, { t: 'still here' });

  a.disconnect();
  g.disconnect();
  await server.stop();
});

test('a provider bound to Reverb\'s ApplicationProvider contract (provider setting left at config) is the one served, and a tenant without a key does not stop the others', { skip: missing || false, timeout: 60000 }, async (t) => {
  const acme = { id: '2001', key: 'bound-key', secret: 'bound-secret', allowed_origins: ['*'] };
  laravel.write('storage/app/tenants.json', JSON.stringify([
    { app_id: acme.id, key: acme.key, secret: acme.secret },
    { app_id: '2002', key: '', secret: 'not-filled-in-yet' },
  ]));
  t.after(() => fs.rmSync(path.join(laravel.dir, 'storage/app/tenants.json'), { force: true }));
  const server = await start({ apps: [acme], env: { FIXTURE_BIND_APPLICATION_PROVIDER: '1' } });
  await server.waitForOutput(/apps: an app with an empty app_id \("2002"\) or key \(""\) is ignored/, 10000);
  const a = pusherClient(server, acme);
  const ch = await subscribed(a, 'news');
  const got = nextEvent(ch, 'Headline');
  await broadcast(server, 'news', 'Headline', { t: 'bound' }, acme);
  assert.deepEqual(await got, { t: 'bound' });
  // config/reverb.php's app is not the bound provider's: refused, as Reverb's server refuses it.
  const stranger = await RawClient.connect(server, laravel.app.key, { expectEstablished: false });
  await stranger.expectFrame({ event: 'pusher:error', data: JSON.stringify({ code: 4001, message: 'Application does not exist' }) }, 30000);
  a.disconnect();
  await server.stop();
});

test('php artisan reverb:binary installs an archive made by the release tool, and reverb:start runs it', { skip: missing || false, timeout: 300000 }, async (t) => {
  // A release laid out as on GitHub, built by scripts/release (what
  // `make release` runs) for this machine only.
  const goarch = { x64: 'amd64', arm64: 'arm64' }[process.arch];
  const releases = fs.mkdtempSync(path.join(laravel.dir, '..', 'releases-'));
  const dist = path.join(releases, 'download', 'v9.8.7');
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const built = await new Promise((resolve) => {
    const p = spawn('go', ['run', './scripts/release', '-version', 'v9.8.7', '-targets', `${process.platform}/${goarch}`, '-out', dist, '-allow-dirty'], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('exit', (code) => resolve({ code, out }));
  });
  assert.equal(built.code, 0, built.out);
  fs.mkdirSync(path.join(releases, 'latest', 'download'), { recursive: true });
  fs.copyFileSync(path.join(dist, 'SHA256SUMS'), path.join(releases, 'latest', 'download', 'SHA256SUMS'));

  const target = path.join(releases, 'bin', 'reverb');
  const env = { REVERB_GO_RELEASES_URL: `file://${releases}`, REVERB_GO_BINARY: target };
  let r = await laravel.artisan(['reverb:binary', '--no-interaction', '--no-ansi'], { env });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`Installed reverb 9\\.8\\.7 \\(${process.platform}/${goarch}\\) at ${target}`));
  r = await laravel.artisan(['reverb:binary', '--no-interaction', '--no-ansi'], { env });
  assert.match(r.stdout, /reverb 9\.8\.7 is already installed/);

  const server = await start({ env });
  assert.match(server.output(), /workers? ready/);
  await server.stop();
});

test('REVERB_GO_SERVER=php gives reverb:start back to PHP Reverb', { skip: missing || false, timeout: 60000 }, async () => {
  const server = await start({ env: { REVERB_GO_SERVER: 'php', REVERB_GO_BINARY: '/nonexistent' } });
  assert.doesNotMatch(server.output(), /workers? ready/);
  const p = pusherClient(server, laravel.app);
  await waitConnected(p, 10000);
  p.disconnect();
  await server.stop({ signal: 'SIGINT' });
});

/** php artisan serve, for the events route. */
async function serveApp() {
  const port = await freePort();
  const proc = spawn('php', ['artisan', 'serve', '--host=127.0.0.1', `--port=${port}`, '--no-reload'], { cwd: laravel.dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PHP_CLI_SERVER_WORKERS: '1' } });
  const web = { host: '127.0.0.1', port, proc };
  await waitFor(async () => {
    try { return (await httpGet(web, '/up', { timeout: 500 })).status === 200; } catch { return false; }
  }, { timeout: 20000, message: 'php artisan serve' });
  return web;
}

function post(web, path, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: web.host, port: web.port, method: 'POST', path, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('the events route verifies the signed batch and the app\'s own listeners of Reverb\'s events run', { skip: missing || false, timeout: 60000 }, async (t) => {
  const web = await serveApp();
  t.after(() => web.proc.kill());
  const log = 'storage/logs/reverb-events.jsonl';
  laravel.write(log, '');

  // Signed exactly as the wire format says, the way the server signs it.
  const app = laravel.app;
  const body = JSON.stringify({
    time_ms: Date.now(),
    events: [
      { name: 'message_received', app_id: app.id, socket_id: '111.222', origin: 'http://localhost', channel: 'private-chat', message: '{"event":"client-typing","channel":"private-chat","data":{"who":"ana"}}' },
      { name: 'channel_created', app_id: app.id, channel: 'presence-room' },
      { name: 'connection_pruned', app_id: app.id, socket_id: '333.444', origin: null, data: { user_id: 7 } },
    ],
  });
  const signature = crypto.createHmac('sha256', app.secret).update(body).digest('hex');
  // The official npm SDK's webhook validator agrees with that signature.
  const sdk = new PusherServer({ appId: app.id, key: app.key, secret: app.secret });
  const hook = (sig) => sdk.webhook({ headers: { 'content-type': 'application/json', 'x-pusher-key': app.key, 'x-pusher-signature': sig }, rawBody: body });
  assert.ok(hook(signature).isValid());

  const wrong = signature.replace(/^./, (c) => (c === '0' ? '1' : '0'));
  assert.equal(hook(wrong).isValid(), false);
  const bad = await post(web, '/reverb-go/events', body, { 'X-Pusher-Key': app.key, 'X-Pusher-Signature': wrong });
  assert.equal(bad.status, 401);
  assert.equal(laravel.read(log), '');

  const ok = await post(web, '/reverb-go/events', body, { 'X-Pusher-Key': app.key, 'X-Pusher-Signature': signature });
  assert.deepEqual(ok, { status: 200, json: { ok: true } });
  const lines = laravel.read(log).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines, [
    { event: 'MessageReceived', socket_id: '111.222', app_id: app.id, origin: 'http://localhost', message: '{"event":"client-typing","channel":"private-chat","data":{"who":"ana"}}' },
    { event: 'ChannelCreated', channel: 'presence-room', class: 'PresenceChannel' },
    { event: 'ConnectionPruned', socket_id: '333.444', app_id: app.id, data: { user_id: 7 } },
  ]);
});

// The whole bridge: the server posts Reverb's events to the package's route.
test('a listener of MessageReceived registered in the app sees a whisper sent by pusher-js', { skip: missing || false, timeout: 60000 }, async (t) => {
  const web = await serveApp();
  t.after(() => web.proc.kill());
  const log = 'storage/logs/reverb-events.jsonl';
  laravel.write(log, '');
  const app = laravel.app;
  laravel.write('config/reverb.php', `<?php

return [
    'apps' => [
        'provider' => 'config',
        'apps' => [[
            'key' => env('REVERB_APP_KEY'),
            'secret' => env('REVERB_APP_SECRET'),
            'app_id' => env('REVERB_APP_ID'),
            'options' => [],
            'allowed_origins' => ['*'],
            'ping_interval' => 60,
            'activity_timeout' => 30,
            'max_message_size' => 10000,
            'accept_client_events_from' => 'all',
            'listeners' => [
                'url' => 'http://127.0.0.1:${web.port}/reverb-go/events',
                'events' => ['message_received'],
            ],
        ]],
    ],
];
`);
  t.after(() => fs.rmSync(path.join(laravel.dir, 'config/reverb.php')));
  const server = await start();
  const p = pusherClient(server, app);
  const ch = await subscribed(p, 'private-chat');
  ch.trigger('client-typing', { who: 'ana' });
  // MessageReceived fires for every message the client sends (its
  // pusher:subscribe too, as in Reverb): the whisper's is the one to find.
  const line = await waitFor(() => laravel.read(log).split('\n').find((l) => l.includes('MessageReceived') && l.includes('client-typing')), { timeout: 15000, message: 'the MessageReceived listener' });
  const got = JSON.parse(line);
  assert.equal(got.socket_id, p.connection.socket_id);
  assert.equal(got.app_id, app.id);
  assert.deepEqual(JSON.parse(got.message), { event: 'client-typing', channel: 'private-chat', data: { who: 'ana' } });
  p.disconnect();
  await server.stop();
});
