// Differential test of Reverb's events for PHP listeners (docs/webhooks.md) against PHP
// Reverb 1.10.2 as the oracle. One Laravel app with the companion package installed
// registers listeners of MessageReceived, MessageSent, ChannelCreated and ChannelRemoved
// (companion/tests/Fixtures: one JSON line per event in storage/logs/reverb-events.jsonl).
// The same seeded script of raw clients (subscribes on every channel type, unsubscribes,
// client events, pings, API triggers with and without socket_id, disconnects and
// reconnects) is played in lock-step against PHP Reverb (REVERB_GO_SERVER=php php artisan
// reverb:start: the listeners run inside Reverb) and against this server (php artisan
// reverb:start: the listeners run in `php artisan serve` behind the package's events
// route). Then the two logs are compared: each socket's MessageReceived and MessageSent in
// order, messages exactly (socket ids named by order of appearance), and each channel's
// events in order. Across kinds the order differs by design (docs/compatibility.md §11:
// what is decided on the bus comes after the message that caused it), so kinds are
// compared apart. ConnectionPruned needs Reverb's minute-long prune timer and is not
// played here.
//
// Extra seeds, for hunting: REVERB_E2E_LISTENERS_SEEDS=1-50 and
// REVERB_E2E_LISTENERS_STEPS=80. REVERB_E2E_LISTENERS_PORT=N uses ports N (PHP Reverb), N+1
// (this server) and N+2 (php artisan serve).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';

import { RawClient, api, freePort, httpGet, stopAll, waitFor } from './lib/harness.mjs';
import { laravelMissing, prepareLaravelApp, startArtisanServer } from './lib/laravel-app.mjs';
import { LockStep, genScript, quietFor, seedList } from './lib/differential.mjs';
import { startPhpReverb } from './lib/php-reverb.mjs';

const missing = laravelMissing();
const SEEDS = seedList('REVERB_E2E_LISTENERS_SEEDS', [1, 2]);
const STEPS = Number(process.env.REVERB_E2E_LISTENERS_STEPS || 30);
const CLIENTS = 3;
const LOG = 'storage/logs/reverb-events.jsonl';
const PONG = '{"event":"pusher:pong"}';

let laravel;
let web;
let php;
let go;

/** php artisan serve: the package's events route. */
async function serveApp(dir, port) {
  const proc = spawn('php', ['artisan', 'serve', '--host=127.0.0.1', `--port=${port}`, '--no-reload'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PHP_CLI_SERVER_WORKERS: '1' } });
  const server = { host: '127.0.0.1', port, proc };
  await waitFor(async () => {
    try { return (await httpGet(server, '/up', { timeout: 500 })).status === 200; } catch { return false; }
  }, { timeout: 20000, message: 'php artisan serve' });
  return server;
}

before(async () => {
  if (missing) return;
  const base = Number(process.env.REVERB_E2E_LISTENERS_PORT || 0);
  laravel = await prepareLaravelApp();
  web = await serveApp(laravel.dir, base ? base + 2 : await freePort());
  const a = laravel.app;
  laravel.write('config/reverb.php', `<?php

return [
    'default' => 'reverb',
    'servers' => ['reverb' => [
        'host' => '127.0.0.1', 'port' => 8080, 'path' => '', 'hostname' => '127.0.0.1',
        'options' => ['tls' => []], 'max_request_size' => 10000,
        'scaling' => ['enabled' => false, 'channel' => 'reverb', 'server' => []],
        'pulse_ingest_interval' => 15, 'telescope_ingest_interval' => 15,
    ]],
    'apps' => [
        'provider' => 'config',
        'apps' => [[
            'key' => '${a.key}', 'secret' => '${a.secret}', 'app_id' => '${a.id}',
            'options' => [], 'allowed_origins' => ['*'],
            'ping_interval' => 60, 'activity_timeout' => 30, 'max_message_size' => 10000,
            'accept_client_events_from' => 'all',
            'listeners' => [
                'url' => 'http://127.0.0.1:${web.port}/reverb-go/events',
                'events' => ['message_received', 'message_sent', 'channel_created', 'channel_removed'],
            ],
        ]],
    ],
];
`);
  const apps = [a];
  laravel.write(LOG, '');
  php = await startPhpReverb(laravel.dir, base || await freePort(), apps, { env: { REVERB_GO_SERVER: 'php' } });
  go = await startArtisanServer(laravel, { apps, port: base ? base + 1 : undefined });
  // docs/compatibility.md §1: Reverb answers 4200 to client events on a fresh server
  // until someone subscribed (its channel manager has no app yet). One subscribe first.
  for (const s of [php, go]) {
    const c = await RawClient.connect(s, a.key);
    await c.subscribeOk('warm-up');
    c.close(1000);
    await c.closed;
  }
  // This server's events for the warm-up reach the log after the fact: all in before the
  // scripts start.
  await waitFor(() => /"ChannelRemoved","channel":"warm-up"[^\n]*\n[^]*"ChannelRemoved","channel":"warm-up"/.test(laravel.read(LOG)), { timeout: 15000, message: 'the listeners of the warm-up\'s ChannelRemoved on both servers' });
  await quietFor(500, () => laravel.read(LOG).length);
}, { timeout: 240000 });

after(async () => {
  await stopAll();
  if (go) await go.stop();
  if (php) await php.stop();
  web?.proc.kill();
  laravel?.cleanup();
});

// ---------------------------------------------------------------------------
// The script.

// docs/compatibility.md §1: Reverb caches member_removed on presence-cache- channels (a
// later subscriber gets a stale one): none here.
const CHANNELS = ['news', 'private-a', 'presence-a', 'cache-a', 'private-cache-a', 'private-encrypted-a'];
const USERS = [
  { user_id: '1', user_info: { name: 'Ann' } },
  { user_id: 2, user_info: 'two' },
];
const DATA = [{ text: 'hi' }, 'plain', { n: 1, list: [1, 'x'] }, 'é ☃ "q"'];

// Messages Reverb answers with an error, or not at all: which of them reach
// MessageReceived, and what is sent back, is compared too. docs/compatibility.md §1: Reverb
// re-encodes client-event data (spacing, floats, {} as []), we relay it as sent: none here.
const RAW = [
  '{', '[]', '{"event":"pusher:unknown"}', '{"event":"client-x","channel":"nowhere","data":{}}',
  '{"event":"pusher:ping","data":"x"}', '{"event":"pusher:subscribe","data":{}}', '{"event":"pusher:unsubscribe","data":{"channel":"never"}}',
  '{"event":"client-x","channel":"news","data":[]}',
];

function genOp(r) {
  const c = r.int(CLIENTS);
  const ch = r.pick(CHANNELS);
  const roll = r.int(100);
  if (roll < 35) return { op: 'subscribe', c, ch, user: r.pick(USERS) };
  if (roll < 48) return { op: 'unsubscribe', c, ch };
  if (roll < 68) return { op: 'client', c, ch, ev: r.pick(['client-typing', 'client-x']), data: r.pick(DATA) };
  if (roll < 74) return { op: 'ping', c };
  if (roll < 84) return { op: 'trigger', c, ch, data: r.pick(DATA), except: r.chance(0.4) };
  if (roll < 92) return { op: 'raw', c, text: r.pick(RAW) };
  return { op: 'reconnect', c };
}

class Run extends LockStep {
  constructor(server) {
    super(server);
    this.app = server.apps[0];
  }

  async start() {
    for (let i = 0; i < CLIENTS; i++) await this.connect(i, this.app.key);
  }

  async play(op) {
    const c = this.clients[op.c];
    switch (op.op) {
      case 'subscribe':
        c.subscribe(op.ch, op.ch.startsWith('presence-') ? { channelData: op.user } : {});
        return;
      case 'unsubscribe':
        c.unsubscribe(op.ch);
        return;
      case 'client':
        c.send({ event: op.ev, channel: op.ch, data: op.data });
        return;
      case 'raw':
        c.send(op.text);
        return;
      case 'ping':
        c.send({ event: 'pusher:ping', data: {} });
        return;
      case 'trigger': {
        const body = { name: 'App\\Events\\Thing', channels: [op.ch], data: JSON.stringify(op.data) };
        if (op.except) body.socket_id = c.socketId;
        const res = await api(this.server, this.app, 'POST', `/apps/${this.app.id}/events`, { body });
        assert.equal(res.status, 200, res.text);
        return;
      }
      case 'reconnect':
        c.close(1000);
        await c.closed;
        await this.connect(op.c, this.app.key);
        return;
      default:
        throw new Error(`unknown op ${op.op}`);
    }
  }

  // One client after the other, the others passing the barrier each time: what each
  // departure sends the others is delivered on both servers.
  async end() {
    for (const c of this.clients) {
      c.close(1000);
      await c.closed;
      await this.settle();
    }
  }

  quiesce(op) {
    return this.settle({ want: (i) => (op.op === 'ping' && op.c === i ? 2 : 1) });
  }
}

function readLog() {
  return laravel.read(LOG).split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

// The listeners' lines per kind: each socket's MessageReceived and MessageSent in order
// (a subscribe's signature, made for the socket id, as <signed>), each channel's
// ChannelCreated and ChannelRemoved in order (the clients closed together at the end
// leave their channels in either order).
function groups(run, lines) {
  const out = {};
  const add = (k, v) => { (out[k] ??= []).push(v); };
  for (const l of lines) {
    switch (l.event) {
      case 'MessageReceived':
      case 'MessageSent':
        // docs/compatibility.md §3: a presence subscription's frames follow a round trip
        // through the bus, so the barrier's pong may be sent before them: pongs are
        // counted apart.
        if (l.event === 'MessageSent' && l.message === PONG) add(`${l.event} ${run.normalise(l.socket_id)} pongs`, `${l.app_id} ${l.origin} ${l.message}`);
        else add(`${l.event} ${run.normalise(l.socket_id)}`, `${l.app_id} ${l.origin} ${run.normalise(l.message).replace(/("auth":")[^"]*:[0-9a-f]{64}"/, '$1<signed>"')}`);
        break;
      case 'ChannelCreated':
      case 'ChannelRemoved':
        add(`channel ${l.channel}`, `${l.event} ${l.class}`);
        break;
      default:
        add(l.event, JSON.stringify(l));
    }
  }
  return out;
}

async function playOn(server, script) {
  laravel.write(LOG, '');
  const run = new Run(server);
  await run.start();
  for (const op of script) {
    await run.play(op);
    await run.quiesce(op);
    run.take();
  }
  await run.end();
  // The events route gets batches up to 250 ms after their first event: the log is
  // complete once it stopped growing.
  await quietFor(server === go ? 1000 : 300, () => laravel.read(LOG).length);
  return groups(run, readLog());
}

for (const seed of SEEDS) {
  test(`listeners of Reverb's events see what they see under PHP Reverb: seed ${seed}`, { skip: missing || false, timeout: 90000 }, async () => {
    const script = genScript(seed, STEPS, genOp);
    const a = await playOn(php, script);
    const b = await playOn(go, script);
    for (const k of ['MessageReceived', 'MessageSent', 'channel']) assert.ok(Object.keys(a).some((x) => x.startsWith(k)), `PHP Reverb's listeners saw no ${k}: ${Object.keys(a)}`);
    const history = script.map((op, i) => `#${i} ${JSON.stringify(op)}`).join('\n');
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const pa = a[k] ?? [];
      const pb = b[k] ?? [];
      const i = pa.findIndex((x, j) => x !== pb[j]);
      const at = i >= 0 ? i : pa.length < pb.length ? pa.length : -1;
      if (at >= 0) {
        assert.fail(`seed ${seed}: ${k} differs at #${at}\n  php: ${JSON.stringify(pa.slice(Math.max(0, at - 2), at + 3))}\n  go:  ${JSON.stringify(pb.slice(Math.max(0, at - 2), at + 3))}\nscript:\n${history}`);
      }
    }
  });
}
