// The supervisor: workers sharing one socket, zero-downtime
// restarts from `php artisan reverb:restart`'s flag, worker replacement,
// SIGTERM drain, and a broken config at restart. Real processes, real
// clients; the flag is written by Laravel's own cache classes through PHP.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { RawClient, serverSdk, skipOnPortable, startServer, stopAll, waitFor } from './lib/harness.mjs';
import { Fleet, childPids, connectionChurn, eventStream, phpMissing, runPhp } from './lib/supervisor-helpers.mjs';

const noPhp = phpMissing();
const CLIENTS = Number(process.env.REVERB_E2E_SUPERVISOR_CLIENTS ?? 500);
const DRAIN = 3000; // ms; the drain window of these tests
// A client that lost its socket less than this after an API call returned is
// not counted as a required receiver: the bus delivers asynchronously, so the
// close and the event may cross on the old worker.
const SLACK_MS = 200;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function projectFor(store) {
  return {
    workers: 2,
    drainWindow: `${DRAIN}ms`,
    env: {
      CACHE_STORE: store,
      CACHE_PREFIX: 'laravel_cache_',
      DB_CONNECTION: 'sqlite',
    },
    files: { 'database/database.sqlite': '' },
  };
}

async function restartScenario(t, store) {
  const opts = projectFor(store);
  let server;
  if (store === 'database') {
    // The app's migrations ran before reverb started (the cache table exists).
    const { createProject } = await import('./lib/harness.mjs');
    const project = await createProject(opts);
    await runPhp(project.dir, store, 'laravel_cache_', 'migrate');
    server = await startServer({ ...opts, project });
    t.after(() => project.cleanup());
  } else {
    server = await startServer(opts);
  }
  t.after(() => stopAll());
  const app = server.app(0);
  const sdk = serverSdk(server, app);

  const fleet = new Fleet(server, app, 'stream', 'tick');
  const t0 = performance.now();
  await fleet.connect(CLIENTS);
  t.diagnostic(`${CLIENTS} pusher-js clients connected and subscribed in ${Math.round(performance.now() - t0)} ms`);
  const initial = new Set(fleet.records.map((r) => fleet.socketId(r)));
  assert.equal(initial.size, CLIENTS, 'distinct socket ids');

  const stream = eventStream(sdk, 'stream', 'tick', 40);
  const churn = connectionChurn(() => RawClient.connect(server, app.key), 50);
  await sleep(500);

  const before = server.output().length;
  const written = await runPhp(server.project.dir, store, 'laravel_cache_', 'flag');
  const curve = [];
  const sampler = setInterval(() => {
    const old = fleet.records.filter((r) => initial.has(fleet.socketId(r))).length;
    curve.push([Date.now() - written, old]);
  }, 250);
  try {
    await server.waitForOutput(/Generation 2 ready in (\d+) ms/, 20000);
    const readyAt = Date.now();
    const logged = /Generation 2 ready in (\d+) ms/.exec(server.output().slice(before))[1];
    t.diagnostic(`flag written → generation 2 ready: ${readyAt - written} ms (workers' own start: ${logged} ms)`);
    await server.waitForOutput(/Generation 1 gone after/, DRAIN + 10000);
    // The old workers are gone once they sent their close frames; clients
    // may still be reading them: wait until everyone is on a new socket.
    await waitFor(() => fleet.records.every((r) => r.cur && !initial.has(fleet.socketId(r))), { timeout: 15000, message: 'every client on a new socket' }).catch(() => {});
    await fleet.settled();
  } finally {
    clearInterval(sampler);
  }
  t.diagnostic(`drain curve (ms after flag write: clients still on old workers): ${curve.map(([ms, n]) => `${ms}:${n}`).join(' ')}`);
  await sleep(500);
  await stream.stop();
  await churn.stop();
  await sleep(500);

  const misses = fleet.misses(stream.events, SLACK_MS);
  const borderline = fleet.misses(stream.events, 0).length - misses.length;
  t.diagnostic(`${stream.events.length} events accepted, ${churn.ok} churn connections, ${borderline} deliveries within ${SLACK_MS} ms of a drain close not required`);
  const gaps = fleet.missGaps(stream.events);
  if (gaps.length) t.diagnostic(`undelivered events by close time after the API answer (ms): ${gaps.join(' ')}`);

  assert.deepEqual(stream.failures, [], 'failed API calls');
  assert.deepEqual(churn.failures, [], 'refused or failed connects');
  assert.ok(churn.ok > 10, `churn ran (${churn.ok})`);
  // pusher-js reports every 4xxx close as a PusherError; 4200-4299 is the
  // drain asking it to reconnect at once. Anything else is a failure.
  const errors = fleet.records.flatMap((r) => r.errors).map((e) => e?.error ?? e)
    .filter((e) => !(e?.type === 'PusherError' && e.data?.code >= 4200 && e.data?.code <= 4299));
  assert.deepEqual(errors.map((e) => JSON.stringify(e)), [], 'pusher-js connection errors');
  for (const r of fleet.records) {
    const now = fleet.socketId(r);
    assert.ok(now && !initial.has(now), `client moved to a new socket (had ${r.socketIds.join(', ')})`);
  }
  assert.deepEqual(misses.slice(0, 5), [], `${misses.length} events not delivered to a subscribed socket`);
  const dups = fleet.records.flatMap((r) => r.dups);
  assert.deepEqual(dups.slice(0, 5), [], `${dups.length} events delivered twice to a client`);
  assert.match(server.output(), /Restart signal received/);
  assert.match(server.output(), /Configuration reloaded/);
  fleet.disconnect();
}

test('restart flag in the file store: clients move to new workers with no loss', { skip: noPhp || false, timeout: 120000 }, async (t) => {
  await restartScenario(t, 'file');
});

test('restart flag in the database store (SQLite): clients move to new workers with no loss', { skip: noPhp || false, timeout: 120000 }, async (t) => {
  await restartScenario(t, 'database');
});

test('kill -9 of one worker: it is replaced, clients of the other worker see nothing', { skip: skipOnPortable('no worker processes to kill (every server is in the one process)'), timeout: 60000 }, async (t) => {
  const server = await startServer({ workers: 2, drainWindow: '500ms' });
  t.after(() => stopAll());
  const app = server.app(0);
  const fleet = new Fleet(server, app, 'stream', 'tick');
  await fleet.connect(60);
  const pids = childPids(server.proc.pid);
  assert.equal(pids.length, 2, `two workers (${pids})`);
  const initial = new Map(fleet.records.map((r) => [r, fleet.socketId(r)]));
  const changesBefore = new Map(fleet.records.map((r) => [r, r.stateChanges]));

  process.kill(pids[0], 'SIGKILL');
  await server.waitForOutput(/died: killed by SIGKILL/, 5000);
  await server.waitForOutput(/Worker \d replaced/, 10000);
  // pusher-js waits 1 s after an abnormal close (1006) before it reconnects.
  await waitFor(() => fleet.records.some((r) => r.stateChanges !== changesBefore.get(r)), { timeout: 5000, message: 'clients of the killed worker noticed' });
  await sleep(1500);
  await fleet.settled();

  const hit = fleet.records.filter((r) => r.stateChanges !== changesBefore.get(r));
  const untouched = fleet.records.filter((r) => r.stateChanges === changesBefore.get(r));
  t.diagnostic(`${hit.length} clients were on the killed worker, ${untouched.length} on the other`);
  assert.ok(hit.length > 0 && untouched.length > 0, 'clients were spread over both workers');
  for (const r of untouched) assert.equal(fleet.socketId(r), initial.get(r), 'untouched client kept its socket');
  for (const r of hit) assert.notEqual(fleet.socketId(r), initial.get(r), 'reconnected client has a new socket');
  const after = childPids(server.proc.pid);
  assert.equal(after.length, 2);
  assert.ok(!after.includes(pids[0]));

  // Everyone still gets broadcasts, across both workers.
  const sdk = serverSdk(server, app);
  const res = await sdk.trigger('stream', 'tick', { seq: 1 });
  assert.equal(res.status, 200);
  await waitFor(() => fleet.records.every((r) => r.seqs.has(1)), { timeout: 5000, message: 'event delivered to all' });
  fleet.disconnect();
});

test('SIGTERM with clients connected: every client gets a 4200-range close frame, exit 0, without waiting out the drain window for a few clients', { timeout: 60000 }, async (t) => {
  const server = await startServer({ workers: 2, drainWindow: '10s' });
  t.after(() => stopAll());
  const app = server.app(0);
  const clients = [];
  for (let i = 0; i < 40; i++) clients.push(await RawClient.connect(server, app.key));
  const started = performance.now();
  const res = await server.stop({ signal: 'SIGTERM', timeout: 15000 });
  assert.deepEqual(res, { code: 0, signal: null });
  // 40 connections at the reconnect pace (thousands a second) close at
  // once: a stop is not spread over the whole 10 s window.
  assert.ok(performance.now() - started < 5000, `stopped after ${Math.round(performance.now() - started)} ms`);
  const closes = await Promise.all(clients.map((c) => c.closed));
  for (const c of closes) assert.ok(c.code >= 4200 && c.code <= 4299, `close code ${c.code}`);
  assert.match(server.output(), /Gracefully terminating connections/);
});

test('broken config/reverb.php at restart: the old workers keep serving and the log names the line', { skip: noPhp || false, timeout: 60000 }, async (t) => {
  const server = await startServer({ workers: 2, drainWindow: '500ms' });
  t.after(() => stopAll());
  const app = server.app(0);
  const fleet = new Fleet(server, app, 'stream', 'tick');
  await fleet.connect(20);
  const changes = fleet.records.map((r) => r.stateChanges);

  const file = path.join(server.project.dir, 'config', 'reverb.php');
  const good = fs.readFileSync(file, 'utf8');
  const lines = good.split('\n');
  const at = lines.findIndex((l) => l.includes("'max_request_size'"));
  lines[at] = "            'max_request_size' => ,";
  fs.writeFileSync(file, lines.join('\n'));
  await runPhp(server.project.dir, 'file', '', 'flag');
  await server.waitForOutput(/Restart cancelled.*config\/reverb\.php:(\d+)/, 10000);
  const line = Number(/Restart cancelled.*config\/reverb\.php:(\d+)/.exec(server.output())[1]);
  assert.equal(line, at + 1, 'error names the broken line');

  await sleep(300);
  assert.deepEqual(fleet.records.map((r) => r.stateChanges), changes, 'no client was disturbed');
  const c = await RawClient.connect(server, app.key);
  c.close();
  const res = await serverSdk(server, app).trigger('stream', 'tick', { seq: 7 });
  assert.equal(res.status, 200);
  await waitFor(() => fleet.records.every((r) => r.seqs.has(7)), { timeout: 5000, message: 'event delivered' });

  // Fixed: the next flag change restarts.
  fs.writeFileSync(file, good);
  await sleep(1100); // a new second, so time() differs
  await runPhp(server.project.dir, 'file', '', 'flag');
  await server.waitForOutput(/Generation 2 ready/, 20000);
  fleet.disconnect();
});

test('`reverb restart` and SIGHUP restart the workers like the PHP flag does', { timeout: 60000 }, async (t) => {
  const { spawnSync } = await import('node:child_process');
  const { REVERB_BIN } = await import('./lib/harness.mjs');
  const server = await startServer({ workers: 2, drainWindow: '300ms' });
  t.after(() => stopAll());
  const app = server.app(0);
  const fleet = new Fleet(server, app, 'stream', 'tick');
  await fleet.connect(20);
  const first = new Set(fleet.records.map((r) => fleet.socketId(r)));

  const r = spawnSync(REVERB_BIN, ['restart', '--dir', server.project.dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Broadcasting Reverb restart signal/);
  await server.waitForOutput(/Generation 2 ready/, 20000);
  await server.waitForOutput(/Generation 1 gone/, 10000);
  // The workers are gone once they sent the close frames; the clients may
  // still be reading them.
  await waitFor(() => fleet.records.every((x) => x.cur && !first.has(fleet.socketId(x))), { timeout: 10000, message: 'every client moved' });
  const second = new Set(fleet.records.map((r2) => fleet.socketId(r2)));

  server.proc.kill('SIGHUP');
  await server.waitForOutput(/Generation 3 ready/, 20000);
  await server.waitForOutput(/Generation 2 gone/, 10000);
  await waitFor(() => fleet.records.every((x) => x.cur && !second.has(fleet.socketId(x))), { timeout: 10000, message: 'every client moved again' });

  const res = await serverSdk(server, app).trigger('stream', 'tick', { seq: 42 });
  assert.equal(res.status, 200);
  await waitFor(() => fleet.records.every((x) => x.seqs.has(42)), { timeout: 5000, message: 'event delivered' });
  fleet.disconnect();
});

test('presence across a restart: a member who reconnects to the new generation neither leaves nor joins', { timeout: 60000 }, async (t) => {
  const { api, pusherClient, waitConnected } = await import('./lib/harness.mjs');
  const server = await startServer({ workers: 2, drainWindow: '1500ms' });
  t.after(() => stopAll());
  const app = server.app(0);
  const ch = 'presence-restart';
  // pusher-js reconnects and subscribes again by itself after the 4200-range close.
  const mover = pusherClient(server, app, { user: { id: 7, info: { name: 'Mover' } } });
  await waitConnected(mover);
  const firstId = mover.connection.socket_id;
  await new Promise((resolve, reject) => {
    const c = mover.subscribe(ch);
    c.bind('pusher:subscription_succeeded', resolve);
    c.bind('pusher:subscription_error', reject);
  });

  server.proc.kill('SIGHUP');
  await server.waitForOutput(/Generation 2 ready/, 20000);
  // A watcher on the new generation while the mover is still on the draining one.
  const watcher = await RawClient.connect(server, app.key);
  const data = await watcher.subscribeOk(ch, { channelData: { user_id: 100 } });
  assert.deepEqual(Object.keys(data.presence.hash).sort(), ['100', '7'], JSON.stringify(data));

  await server.waitForOutput(/Generation 1 gone/, 15000);
  await waitFor(() => mover.connection.state === 'connected' && mover.connection.socket_id !== firstId
    && mover.channel(ch)?.subscribed, { timeout: 10000, message: 'mover reconnected and subscribed again' });
  // Everything the watcher got before this marker is presence traffic about the mover.
  const r = await api(server, app, 'POST', `/apps/${app.id}/events`, { body: { name: 'marker', data: '{}', channel: ch } });
  assert.equal(r.status, 200);
  const seen = [];
  for (;;) {
    const f = await watcher.next(5000);
    if (f.includes('"event":"marker"')) break;
    seen.push(f);
  }
  assert.deepEqual(seen, [], 'no member_removed / member_added for a member who only moved');
  const users = await api(server, app, 'GET', `/apps/${app.id}/channels/${ch}/users`);
  assert.deepEqual(users.json.users.map((u) => String(u.id)).sort(), ['100', '7']);
  mover.disconnect();
  watcher.close();
});

test('a release-folder deploy (Envoyer, Forge): each restart serves the release `current` links to, also once the old release is deleted', { timeout: 60000 }, async (t) => {
  const { spawnSync } = await import('node:child_process');
  const { APP_A, PORTABLE, REVERB_BIN, createProject } = await import('./lib/harness.mjs');
  // <app>/releases/r1 and r2, each with its own config and a copy of the
  // binary, storage shared through a link, <app>/current -> releases/r1.
  const appOne = { ...APP_A, key: 'release-one-key' };
  const appTwo = { ...APP_A, key: 'release-two-key' };
  const one = await createProject({ apps: [appOne] });
  const two = await createProject({ apps: [appTwo] });
  const base = fs.mkdtempSync(path.join(path.dirname(one.dir), 'reverb-e2e-deploy-'));
  t.after(() => { one.cleanup(); two.cleanup(); fs.rmSync(base, { recursive: true, force: true }); });
  fs.mkdirSync(path.join(base, 'releases'));
  fs.renameSync(path.join(one.dir, 'storage'), path.join(base, 'storage'));
  const releases = {};
  for (const [name, project] of [['r1', one], ['r2', two]]) {
    const dir = path.join(base, 'releases', name);
    fs.renameSync(project.dir, dir);
    fs.rmSync(path.join(dir, 'storage'), { recursive: true, force: true });
    fs.symlinkSync(path.join('..', '..', 'storage'), path.join(dir, 'storage'));
    fs.copyFileSync(REVERB_BIN, path.join(dir, 'reverb'));
    fs.chmodSync(path.join(dir, 'reverb'), 0o755);
    releases[name] = dir;
  }
  const current = path.join(base, 'current');
  const link = (name) => {
    fs.symlinkSync(path.join('releases', name), current + '.new');
    fs.renameSync(current + '.new', current); // the atomic switch deploy tools make
  };
  link('r1');

  // Started from the release's real path, as a process manager's chdir (or
  // artisan's base path) gives it.
  const r1 = releases.r1;
  const server = await startServer({
    project: { dir: r1, apps: [appOne], path: '', cleanup() {} },
    bin: path.join(r1, 'reverb'),
    workers: 2,
    drainWindow: '300ms',
  });
  t.after(() => stopAll());
  await server.waitForOutput(/Serving .*current: every restart reads the release it links to then/, 5000);
  const established = async (key) => {
    const c = await RawClient.connect(server, key, { expectEstablished: false });
    const msg = JSON.parse(await c.next(5000));
    c.ws.close();
    return msg.event === 'pusher:connection_established' ? 'established' : `${msg.event} ${msg.data?.code ?? JSON.parse(msg.data ?? '{}').code}`;
  };
  assert.equal(await established('release-one-key'), 'established');

  const restart = () => {
    const r = spawnSync(path.join(current, 'reverb'), ['restart'], { cwd: current, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  };
  link('r2');
  if (!PORTABLE) {
    // Deployed but not restarted yet: a worker replaced now reads the
    // release its generation was started on, like its sibling.
    process.kill(childPids(server.proc.pid)[0], 'SIGKILL');
    await server.waitForOutput(/Worker \d replaced/, 10000);
    for (let i = 0; i < 6; i++) {
      assert.equal(await established('release-one-key'), 'established', `connection ${i} before the restart`);
    }
  }
  restart();
  await server.waitForOutput(/Generation 2 ready/, 20000);
  assert.equal(await established('release-two-key'), 'established', 'the new release\'s app key');
  // `reverb status` from the release's real path (a deploy hook's
  // `cd {{ release }}`) finds the server serving through current.
  const st = spawnSync(path.join(releases.r2, 'reverb'), ['status'], { cwd: releases.r2, encoding: 'utf8' });
  assert.equal(st.status, 0, st.stdout + st.stderr);
  assert.match(await established('release-one-key'), /pusher:error 4001/, 'the old release\'s key is gone');

  // The old release is deleted, binary and all: the next restart still
  // reads the project and starts workers.
  fs.rmSync(r1, { recursive: true, force: true });
  for (const f of ['.env', path.join('config', 'reverb.php')]) {
    const file = path.join(releases.r2, f);
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replaceAll('release-two-key', 'release-two-key-b'));
  }
  await new Promise((r) => setTimeout(r, 1100)); // a new second for the flag
  restart();
  await server.waitForOutput(/Generation 3 ready/, 20000);
  assert.doesNotMatch(server.output(), /Restart cancelled/);
  assert.equal(await established('release-two-key-b'), 'established');
});
