// Differential test of Reverb's per-app options against PHP Reverb 1.10.2 as the oracle:
// allowed_origins, max_connections, max_message_size, accept_client_events_from,
// rate_limiting, activity_timeout / ping_interval, several apps in one config, and values
// given as strings from `.env`. Each variant is one config/reverb.php (and .env lines)
// written into an unpacked copy of the Laravel test app; `php artisan reverb:start` and
// this server are both started on that same folder, and each of the variant's scripts
// (fixed steps, some drawn from a seed) is played on both in lock-step: after each step
// the clients settle (a ping/pong barrier, or a quiet period where pings would count
// against a rate limit), then each client's frames, close codes and HTTP answers are
// compared as parsed JSON, socket ids replaced by their order of appearance.
//
// Cases are grouped by variant so each PHP server is started once per variant.
// The CI run plays one seed per variant; REVERB_E2E_OPTS_SEEDS=1-20 hunts longer (and
// adds edge values, and the slow timing variant: pings and pruning with a 1 s ping_interval).
// REVERB_E2E_OPTS_PORT=N uses ports N (PHP) and N+1.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { RawClient, api, createProject, php as phpCode, signChannel, startServer, stopAll } from './lib/harness.mjs';
import { laravelMissing, unpackLaravelApp } from './lib/laravel-app.mjs';
import { startPhpReverb } from './lib/php-reverb.mjs';
import { canonical, closeAll, pongBarrier, quietFor, resubscribeMemberRemoved, rng, seedList, serverPorts } from './lib/differential.mjs';

const missing = laravelMissing({ bins: ['php', 'tar'] });
const SEEDS = seedList('REVERB_E2E_OPTS_SEEDS', [1]);
const LONG = Boolean(process.env.REVERB_E2E_OPTS_SEEDS);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// The apps and the variants.

const A = { id: '111111', key: 'key-a', secret: 'secret-a' };
const B = { id: '222222', key: 'key-b', secret: 'secret-b' };
const C = { id: '333333', key: 'key-c', secret: 'secret-c' };

// Client messages of exactly n bytes (JSON text frames).
function sizedPing(n) {
  const base = '{"event":"pusher:ping","data":{"p":""}}';
  return base.replace('"p":""', `"p":"${'x'.repeat(Math.max(0, n - base.length))}"`);
}
function sizedClientEvent(ch, n) {
  const base = `{"event":"client-x","channel":"${ch}","data":{"p":""}}`;
  return base.replace('"p":""', `"p":"${'y'.repeat(Math.max(0, n - base.length))}"`);
}

const ORIGINS = [
  undefined, 'http://laravel.com', 'https://laravel.com', 'http://laravel.com:8080', 'http://LARAVEL.com',
  'http://evil.com', 'http://sub.example.com', 'https://a.b.example.com', 'http://example.com',
  'http://x.example.com.evil.com', 'http://localhost:8080', 'http://localhost', 'http://[::1]:8080',
  'laravel.com', 'laravel.com:8080', 'null', 'file:///x', 'http://laravel.com:99999', 'http://user@laravel.com',
  'http://evil.com#@laravel.com', 'ws://laravel.com', 'http://exa mple.com', 'http://laravel.com%2e', 'http://scheme.test',
];

function originsScript(r) {
  const steps = [];
  const list = LONG ? ORIGINS : ORIGINS;
  for (const origin of list) steps.push({ op: 'connect', c: 0, key: r.pick([A.key, B.key]), origin }, { op: 'close', c: 0 });
  return steps;
}

// A few subscribes and client events on the channels of one app.
const PUB = 'news';
const PRIV = 'private-a';
const PRES = 'presence-a';

function clientEventsScript(r, n = 24) {
  const steps = [{ op: 'connect', c: 0 }, { op: 'connect', c: 1 }, { op: 'connect', c: 2 }];
  for (let i = 0; i < n; i++) {
    const c = r.int(3);
    const ch = r.pick([PUB, PRIV, PRES, 'private-none']);
    const roll = r.int(10);
    if (roll < 4) steps.push({ op: 'sub', c, ch, user: r.pick([{ user_id: '1', user_info: { n: 1 } }, { user_id: '2', user_info: { n: 2 } }]) });
    else if (roll < 5) steps.push({ op: 'send', c, msg: { event: 'pusher:unsubscribe', data: { channel: ch } } });
    else steps.push({ op: 'send', c, msg: { event: r.pick(['client-x', 'client-typing', 'other']), channel: ch, data: r.pick([{ a: 1 }, 'txt', null, [1]]) } });
  }
  return steps;
}

function sizesScript(r, limit) {
  const steps = [{ op: 'connect', c: 0 }, { op: 'connect', c: 1 }, { op: 'sub', c: 0, ch: PUB }, { op: 'sub', c: 1, ch: PUB }];
  const sizes = [limit - 1, limit, limit + 1, limit + 20, Math.max(1, limit - 30)];
  for (let i = 0; i < 8; i++) {
    const n = r.pick(sizes);
    if (r.chance(0.5)) steps.push({ op: 'send', c: r.int(2), msg: sizedPing(n), size: n });
    else steps.push({ op: 'send', c: r.int(2), msg: sizedClientEvent(PUB, n), size: n });
    steps.push({ op: 'reconnectIfClosed', c: 0, ch: PUB }, { op: 'reconnectIfClosed', c: 1, ch: PUB });
  }
  // The API's events are limited by max_request_size, not by the app's max_message_size.
  steps.push({ op: 'api', app: A, method: 'POST', path: `/apps/${A.id}/events`, body: { name: 'big', channel: PUB, data: 'z'.repeat(limit * 3) } });
  return steps;
}

function maxConnectionsScript(r) {
  // docs/compatibility.md §1: Reverb counts only sockets subscribed to a channel for
  // max_connections; every socket here subscribes right after connecting.
  const steps = [];
  for (let c = 0; c < 4; c++) steps.push({ op: 'connect', c }, { op: 'subIfOpen', c, ch: PUB });
  steps.push({ op: 'close', c: r.int(2) });
  steps.push({ op: 'connect', c: 5 }, { op: 'subIfOpen', c: 5, ch: PUB });
  steps.push({ op: 'connect', c: 6 });
  steps.push({ op: 'connect', c: 7, key: B.key }, { op: 'subIfOpen', c: 7, ch: PUB });
  return steps;
}

function rateLimitScript(r) {
  const steps = [{ op: 'connect', c: 0 }, { op: 'connect', c: 1 }];
  const n = 2 + r.int(4);
  for (let i = 0; i < n + 3; i++) {
    const c = r.chance(0.8) ? 0 : 1;
    steps.push(r.pick([
      { op: 'send', c, msg: { event: 'pusher:subscribe', data: { channel: `ch-${i}` } } },
      { op: 'send', c, msg: { event: 'pusher:ping' } },
      { op: 'send', c, msg: '{' },
      { op: 'send', c, msg: { event: 'client-x', channel: 'news', data: {} } },
      { op: 'controlPing', c },
    ]));
  }
  return steps;
}

function twoAppsScript(r) {
  const steps = [
    { op: 'connect', c: 0, key: A.key }, { op: 'connect', c: 1, key: B.key }, { op: 'connect', c: 2, key: B.key },
    { op: 'sub', c: 0, ch: PUB }, { op: 'sub', c: 1, ch: PUB }, { op: 'sub', c: 1, ch: PRIV }, { op: 'sub', c: 0, ch: PRES, user: { user_id: '7', user_info: {} } },
    { op: 'sub', c: 2, ch: PRIV, signWith: A },
    // docs/compatibility.md §1: Reverb's /connections counts subscribed sockets only.
    { op: 'sub', c: 2, ch: 'other' },
  ];
  const calls = [
    { app: A, method: 'POST', path: `/apps/${A.id}/events`, body: { name: 'e', channel: PUB, data: 'a' } },
    { app: B, method: 'POST', path: `/apps/${B.id}/events`, body: { name: 'e', channel: PUB, data: 'b' } },
    { app: A, method: 'POST', path: `/apps/${B.id}/events`, body: { name: 'e', channel: PUB, data: 'x' } },
    { app: B, method: 'POST', path: `/apps/${A.id}/events`, body: { name: 'e', channel: PUB, data: 'y' } },
    { app: A, method: 'GET', path: `/apps/${A.id}/channels` },
    { app: B, method: 'GET', path: `/apps/${B.id}/channels` },
    { app: A, method: 'GET', path: `/apps/${A.id}/channels/${PRES}/users` },
    { app: B, method: 'GET', path: `/apps/${B.id}/channels/${PRES}/users` },
    { app: B, method: 'GET', path: `/apps/${B.id}/channels/${PRIV}` },
    { app: A, method: 'GET', path: `/apps/${A.id}/channels/${PRIV}`, query: { info: 'subscription_count' } },
    { app: A, method: 'GET', path: `/apps/${A.id}/connections` },
    { app: B, method: 'GET', path: `/apps/${B.id}/connections` },
  ];
  for (let i = 0; i < 6; i++) {
    if (r.chance(0.6)) steps.push({ op: 'api', ...r.pick(calls) });
    else steps.push({ op: 'send', c: r.int(3), msg: { event: 'client-x', channel: r.pick([PUB, PRIV]), data: { i } } });
  }
  steps.push(...calls.map((c) => ({ op: 'api', ...c })));
  return steps;
}

// Pings and pruning (long runs only): Reverb sweeps every 60 s (our default sweep too),
// pinging subscribed sockets quiet for ping_interval and pruning those that did not
// answer by the next sweep. Compared coarsely: what each client got by 70 s and by 130 s
// after the servers started. docs/compatibility.md §1: only subscribed sockets are
// pinged by Reverb, and its prune is a bare TCP close (ours 4201): every client here
// subscribes, and the close codes are not compared.
function pingScript() {
  return [{ op: 'connect', c: 0 }, { op: 'connect', c: 1 }, { op: 'sub', c: 0, ch: PUB }, { op: 'sub', c: 1, ch: PRIV },
    { op: 'waitUntil', s: 70, expect: 'pusher:ping' }, { op: 'waitUntil', s: 130, expect: '<closed by the server>' }];
}

function activityScript() {
  return [{ op: 'connect', c: 0 }, { op: 'connect', c: 1 }, { op: 'sub', c: 1, ch: PUB }];
}

// A variant: the apps of config/reverb.php (harness app objects, values may be php()
// code) and extra .env lines; scripts: [name, (r) => steps, settle mode].
const VARIANTS = [
  {
    name: 'allowed_origins',
    apps: [
      { ...A, allowed_origins: ['laravel.com', '*.example.com', 'localhost', '[::1]', 'http://scheme.test'] },
      { ...B, allowed_origins: ['', 'null', 'example.com:8080'] },
    ],
    scripts: [['origins', originsScript]],
  },
  {
    name: 'max_connections 2, max_message_size 120, client events from all',
    apps: [{ ...A, max_connections: 2, max_message_size: 120, accept_client_events_from: 'all' }, { ...B, max_connections: 1 },
      { ...C, max_message_size: 120, accept_client_events_from: 'all' }],
    scripts: [['max_connections', maxConnectionsScript], ['max_message_size', (r) => sizesScript(r, 120)],
      ['client events', (r) => clientEventsScript(r).map((s) => ({ ...s, key: C.key }))]],
  },
  {
    name: 'client events from members, and none',
    apps: [{ ...A, accept_client_events_from: 'members' }, { ...B, accept_client_events_from: 'none' }],
    scripts: [['members', clientEventsScript], ['none', (r) => clientEventsScript(r).map((s) => ({ ...s, key: B.key }))]],
  },
  {
    name: 'rate limiting',
    apps: [
      { ...A, rate_limiting: { enabled: true, max_attempts: 3, decay_seconds: 60, terminate_on_limit: false } },
      { ...B, rate_limiting: { enabled: true, max_attempts: 2, decay_seconds: 60, terminate_on_limit: true } },
    ],
    quiet: true,
    scripts: [['errors', rateLimitScript], ['terminate', (r) => rateLimitScript(r).map((s) => ({ ...s, key: B.key }))]],
  },
  {
    name: 'two apps',
    apps: [{ ...A }, { ...B }],
    scripts: [['isolation', twoAppsScript]],
  },
  {
    name: 'values from .env as strings',
    apps: [{
      ...A,
      ping_interval: phpCode("env('REVERB_APP_PING_INTERVAL', 60)"),
      activity_timeout: phpCode("env('REVERB_APP_ACTIVITY_TIMEOUT', 30)"),
      max_connections: phpCode("env('REVERB_APP_MAX_CONNECTIONS')"),
      max_message_size: phpCode("env('REVERB_APP_MAX_MESSAGE_SIZE', 10_000)"),
      accept_client_events_from: phpCode("env('REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM', 'members')"),
      rate_limiting: phpCode(`[
        'enabled' => env('REVERB_APP_RATE_LIMITING_ENABLED', false),
        'max_attempts' => env('REVERB_APP_RATE_LIMIT_MAX_ATTEMPTS', 60),
        'decay_seconds' => 60,
        'terminate_on_limit' => env('REVERB_APP_RATE_LIMIT_TERMINATE', false),
      ]`),
    }, { ...B, max_connections: phpCode("env('REVERB_APP_B_MAX_CONNECTIONS')"), accept_client_events_from: phpCode("env('REVERB_APP_B_CLIENT_EVENTS')") }],
    env: {
      REVERB_APP_PING_INTERVAL: '"60"', REVERB_APP_ACTIVITY_TIMEOUT: '45', REVERB_APP_MAX_CONNECTIONS: '"3"',
      REVERB_APP_MAX_MESSAGE_SIZE: '"150"', REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM: 'all',
      REVERB_APP_RATE_LIMITING_ENABLED: 'false', REVERB_APP_RATE_LIMIT_MAX_ATTEMPTS: '"5"', REVERB_APP_RATE_LIMIT_TERMINATE: '"false"',
      REVERB_APP_B_MAX_CONNECTIONS: 'null', REVERB_APP_B_CLIENT_EVENTS: '(null)',
    },
    scripts: [['established', activityScript], ['max_message_size', (r) => sizesScript(r, 150)], ['client events', clientEventsScript],
      ['max_connections', maxConnectionsScript], ['second app, nulls', (r) => clientEventsScript(r).map((s) => ({ ...s, key: B.key }))]],
  },
];
if (LONG) {
  VARIANTS.push({
    name: 'edge values',
    apps: [
      { ...A, max_message_size: 0 },
      { ...B, accept_client_events_from: 'ALL' },
      { ...C, max_connections: 0, accept_client_events_from: '' },
    ],
    scripts: [['max_message_size 0', (r) => sizesScript(r, 12000)], ['client events from ALL', (r) => clientEventsScript(r, 10).map((s) => ({ ...s, key: B.key }))],
      ['max_connections 0', () => [{ op: 'connect', c: 0, key: C.key }, { op: 'subIfOpen', c: 0, ch: PUB }]]],
  }, {
    name: 'ping_interval 1 (timing)',
    apps: [{ ...A, ping_interval: 1, activity_timeout: 7 }],
    quiet: true,
    scripts: [['pings', pingScript]],
  });
}

// ---------------------------------------------------------------------------
// The two servers, on one unpacked Laravel app, restarted per variant.

let unpacked;
let appDir;
let originalEnv;
let php;
let go;
let current;
let startedAt;

function writeVariant(v) {
  // The generated config/reverb.php of the harness, in the real app.
  return createProject({ apps: v.apps }).then((proj) => {
    fs.copyFileSync(path.join(proj.dir, 'config', 'reverb.php'), path.join(appDir, 'config', 'reverb.php'));
    proj.cleanup();
    const env = v.env ?? {};
    const kept = originalEnv.split('\n').filter((l) => !Object.keys(env).some((k) => l.startsWith(`${k}=`)));
    fs.writeFileSync(path.join(appDir, '.env'), kept.join('\n') + '\n' + Object.entries(env).map(([k, val]) => `${k}=${val}`).join('\n') + '\n');
  });
}

async function stopBoth() {
  if (go) await go.stop();
  if (php) await php.stop();
  go = php = undefined;
}

async function useVariant(v) {
  if (current === v) return;
  await stopBoth();
  current = undefined;
  await writeVariant(v);
  const ports = await serverPorts('REVERB_E2E_OPTS_PORT');
  php = await startPhpReverb(appDir, ports.php, v.apps);
  go = await startServer({ project: { dir: appDir, apps: v.apps, path: '', cleanup() {} }, port: ports.go });
  current = v;
  startedAt = performance.now();
  // docs/compatibility.md §1 (multi-app: the client-event membership check may use the
  // wrong app's registry): on a fresh Reverb no app was served yet, and every client
  // event answers 4200 until someone subscribes or unsubscribes. One subscribe first.
  for (const s of [php, go]) {
    const allowed = (v.apps[0].allowed_origins ?? ['*']).find((o) => !o.includes('*'));
    const c = await RawClient.connect(s, v.apps[0].key, { origin: allowed ? `http://${allowed}` : undefined });
    c.send({ event: 'pusher:subscribe', data: { channel: 'warm-up' } });
    await c.next();
    c.close(1000);
    await c.closed;
  }
}

before(async () => {
  if (missing) return;
  unpacked = await unpackLaravelApp('reverb-e2e-diffopts-');
  appDir = unpacked.dir;
  originalEnv = fs.readFileSync(path.join(appDir, '.env'), 'utf8');
}, { timeout: 60000 });

after(async () => {
  await stopAll();
  await stopBoth();
  if (unpacked) unpacked.cleanup();
});

// ---------------------------------------------------------------------------
// Playing a script on one server.

class Run {
  constructor(server, quiet, apps) {
    this.server = server;
    this.apps = apps;
    this.quiet = quiet;
    this.clients = new Map();
    this.marks = new Map();
    this.ids = new Map();
    this.notes = new Map(); // client -> connect outcome lines for this step
  }

  norm(t) {
    let s = String(t);
    for (const [id, name] of this.ids) s = s.split(id).join(name);
    return s;
  }

  async connect(i, key = A.key, origin) {
    const old = this.clients.get(i);
    if (old && !old.closeInfo) { old.close(1000); await old.closed; }
    try {
      const c = await RawClient.connect(this.server, key, { origin, expectEstablished: false });
      c.key = key;
      this.clients.set(i, c);
      this.marks.set(i, 0);
      const deadline = performance.now() + 3000;
      while (!c.frames.length && !c.closeInfo && performance.now() < deadline) await c._changed(50);
      if (c.frames.length) {
        try {
          const m = JSON.parse(c.frames[0]);
          if (m.event === 'pusher:connection_established') {
            c.socketId = JSON.parse(m.data).socket_id;
            if (!this.ids.has(c.socketId)) this.ids.set(c.socketId, `S${this.ids.size}`);
          }
          // docs/compatibility.md §1: after 4004 (over quota) or 4009 (origin not allowed)
          // at connect Reverb leaves the socket open and usable; we close it. The client
          // closes it here on both servers (as pusher-js does on 4000-4099).
          const code = m.event === 'pusher:error' ? JSON.parse(m.data).code : 0;
          if (code === 4004 || code === 4009) {
            if (!c.closeInfo) { c.close(1000); await c.closed; }
            c.closeReported = true;
          }
        } catch { /* compared as text */ }
      }
    } catch (e) {
      this.clients.delete(i);
      this.notes.set(i, [`<refused ${e.status ?? e.message}${e.body ? ` ${e.body}` : ''}>`]);
    }
  }

  async subscribe(i, ch, user, signWith) {
    const c = this.clients.get(i);
    if (!c || c.closeInfo) return;
    const data = { channel: ch };
    const app = signWith ?? [A, B, C].find((a) => a.key === c.key);
    if (ch.startsWith('presence-')) data.channel_data = JSON.stringify(user ?? { user_id: '1', user_info: {} });
    if (ch.startsWith('private-') || ch.startsWith('presence-')) data.auth = `${app.key}:${signChannel(app.secret, c.socketId, ch, data.channel_data)}`;
    c.send({ event: 'pusher:subscribe', data });
  }

  async play(s) {
    const c = this.clients.get(s.c);
    switch (s.op) {
      case 'connect': return this.connect(s.c, s.key ?? A.key, s.origin);
      case 'close':
        if (c && !c.closeInfo) { c.close(1000); await c.closed; c.closeReported = true; }
        return undefined;
      case 'sub': return this.subscribe(s.c, s.ch, s.user, s.signWith);
      case 'subIfOpen': return this.subscribe(s.c, s.ch);
      case 'reconnectIfClosed':
        if (!c || c.closeInfo) {
          await this.connect(s.c, c?.key ?? A.key);
          await this.settle();
          await this.subscribe(s.c, s.ch);
        }
        return undefined;
      case 'send':
        if (!c || c.closeInfo) return undefined;
        // docs/compatibility.md §1 (multi-app): Reverb checks a client event's membership
        // in the registry of whichever app its channel manager last served. An unsubscribe
        // from the sender (of a channel it is not on: no answer) makes that its own app.
        if (this.apps.length > 1 && !this.quiet && typeof s.msg === 'object' && String(s.msg.event).startsWith('client-')) {
          c.send({ event: 'pusher:unsubscribe', data: { channel: 'not-subscribed' } });
        }
        c.send(s.msg);
        return undefined;
      case 'waitUntil': {
        const left = startedAt + s.s * 1000 - performance.now();
        if (left > 0) await sleep(left);
        return undefined;
      }
      case 'controlPing':
        if (c && !c.closeInfo) c.ws.ping('x');
        return undefined;
      case 'api': {
        const res = await api(this.server, s.app, s.method, s.path, { body: s.body, query: s.query });
        return `${res.status} ${this.norm(res.text)}`;
      }
      default: throw new Error(`unknown op ${s.op}`);
    }
  }

  // step: a ping sent by the script means one more pong to wait for (a large message
  // can take PHP a while to read).
  async settle(step) {
    const open = [...this.clients.entries()].filter(([, c]) => !c.closeInfo);
    if (!this.quiet) {
      const pinged = (i) => step?.op === 'send' && step.c === i && /^\{"event":"pusher:ping"/.test(typeof step.msg === 'string' ? step.msg : JSON.stringify(step.msg));
      await pongBarrier(this.server, open.map(([i, c]) => [i, c, this.marks.get(i)]), { want: (i) => (pinged(i) ? 2 : 1), strict: false });
      for (const [, c] of open) c.barrier = true;
    }
    // Then quiet for a while (longer without a barrier).
    await quietFor(this.quiet ? 250 : 30, () => [...this.clients.values()].reduce((n, c) => n + c.frames.length + (c.closeInfo ? 1 : 0), 0));
  }

  take() {
    const out = {};
    const keys = new Set([...this.clients.keys(), ...this.notes.keys()]);
    for (const i of keys) {
      const c = this.clients.get(i);
      const list = [...(this.notes.get(i) ?? [])];
      if (c) {
        const fresh = c.frames.slice(this.marks.get(i));
        this.marks.set(i, c.frames.length);
        if (c.barrier) {
          const last = fresh.lastIndexOf('{"event":"pusher:pong"}');
          if (last >= 0) fresh.splice(last, 1);
          c.barrier = false;
        }
        list.push(...fresh.map((f) => canonical(this.norm(f))));
        if (c.closeInfo && !c.closeReported) {
          c.closeReported = true;
          list.push(`<closed ${c.closeInfo.code}>`);
        }
      }
      if (list.length) out[`c${i}`] = list;
    }
    this.notes.clear();
    return out;
  }

  end() { return closeAll(this.clients.values()); }
}

// Known, documented differences, normalised before comparing.
function normalise(step, php, go) {
  for (const side of [php, go]) {
    for (const [k, list] of Object.entries(side)) {
      side[k] = list.map((f) => {
        // docs/compatibility.md §1: 4004 (over quota) and 4009 (origin) at connect send the
        // error frame and leave Reverb's socket open; we close it with the same code.
        if (f === '<closed 4004>' || f === '<closed 4009>') return null;
        // docs/compatibility.md §1: a rate-limit terminate is a bare TCP close in Reverb
        // (before the 4301 frame is written); we send the frame, then close with 4301.
        // The same for a prune (ours: 4201).
        if (f === '<closed 4301>' || f === '<closed 1006>' || f === '<closed 4201>') return '<closed by the server>';
        return f;
      }).filter((f) => f !== null);
    }
  }
  // Reverb drops the 4301 frame of a terminate (it closes first): ours is not compared.
  for (const [k, list] of Object.entries(go)) {
    if (list.includes('<closed by the server>') && !(php[k] ?? []).some((f) => f.includes('4301'))) {
      go[k] = list.filter((f) => !f.includes('"code":4301'));
    }
  }
  // docs/compatibility.md §1: a socket subscribing again to a presence channel as another
  // user makes us send member_removed for the user it was; Reverb sends none.
  if (step.op === 'sub') {
    for (const [k, list] of Object.entries(go)) go[k] = resubscribeMemberRemoved(step.ch, php[k] ?? [], list);
  }
  for (const side of [php, go]) for (const k of Object.keys(side)) if (!side[k].length) delete side[k];
  return [php, go];
}

async function differential(v, name, gen, seed) {
  await useVariant(v);
  const script = gen(rng(seed * 7919 + name.length));
  const a = new Run(php, v.quiet, v.apps);
  const b = new Run(go, v.quiet, v.apps);
  const history = [];
  try {
    for (let step = 0; step < script.length; step++) {
      const s = script[step];
      const t0 = performance.now();
      const [ra, rb] = await Promise.all([a.play(s), b.play(s)]);
      const t1 = performance.now();
      await Promise.all([a.settle(s), b.settle(s)]);
      if (process.env.REVERB_E2E_OPTS_TIMING) console.error(`step ${step} ${s.op}: play ${Math.round(t1 - t0)} ms, settle ${Math.round(performance.now() - t1)} ms`);
      const [fa, fb] = normalise(s, a.take(), b.take());
      const shown = { ...s };
      if (typeof shown.msg === 'string' && shown.msg.length > 60) shown.msg = `<${shown.msg.length} bytes>`;
      if (shown.body?.data?.length > 60) shown.body = { ...shown.body, data: `<${shown.body.data.length} bytes>` };
      history.push(`#${step} ${JSON.stringify(shown)}${ra ? ` -> php ${ra} / go ${rb}` : ''} :: ${JSON.stringify(fa)}`);
      const where = `variant "${v.name}", script ${name}, seed ${seed}, step ${step}`;
      if (ra !== rb) assert.fail(`${where}: HTTP answers differ\n  php: ${ra}\n  go:  ${rb}\n${history.slice(-15).join('\n')}`);
      if (s.expect && !JSON.stringify(fa).includes(s.expect)) assert.fail(`${where}: expected ${s.expect} from PHP Reverb\n${history.slice(-15).join('\n')}`);
      if (JSON.stringify(fa) !== JSON.stringify(fb)) {
        assert.fail(`${where}: frames differ\n  php: ${JSON.stringify(fa)}\n  go:  ${JSON.stringify(fb)}\n${history.slice(-15).join('\n')}`);
      }
    }
  } finally {
    await Promise.all([a.end(), b.end()]);
  }
}

for (const v of VARIANTS) {
  for (const [name, gen] of v.scripts) {
    for (const seed of SEEDS) {
      test(`options differential: ${v.name}: ${name}, seed ${seed}`, { skip: missing || false, timeout: 200000 }, async () => {
        await differential(v, name, gen, seed);
      });
    }
  }
}
