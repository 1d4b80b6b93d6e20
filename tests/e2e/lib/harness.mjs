// Shared end-to-end harness: a temporary Laravel project, the real `reverb`
// binary started on a free port, and the real clients (raw `ws`, pusher-js,
// laravel-echo, the `pusher` server SDK, signed raw HTTP).
//
// Every test file imports this one; keep the exported API below stable.
//
// Stable exported API
// -------------------
// Constants
//   APP_A, APP_B, APP_C        the three apps of spec §15 (objects, see appConfig below)
//   REVERB_BIN                 path of the binary (env REVERB_BIN, default ../bin/reverb)
//   PORTABLE                   true when REVERB_BIN is the portable build (macOS/Windows code:
//                              one process, in-process generations; env REVERB_E2E_PORTABLE=1|0,
//                              else asked of the binary)
//   skipOnPortable(reason)     test option value: skips a test of process-level facts (worker
//                              pids, SCM_RIGHTS) on the portable build, with the reason shown
//
// Project and server
//   defaultApps()                         -> [APP_A, APP_B, APP_C] (fresh copies)
//   createProject(opts) -> Promise<Project>
//       opts.apps          array of app configs (default defaultApps()); each:
//                          {id, key, secret, allowed_origins, ping_interval, activity_timeout,
//                           max_connections, max_message_size, accept_client_events_from,
//                           rate_limiting: {enabled, max_attempts, decay_seconds, terminate_on_limit},
//                           webhooks: [...], listeners: {...}, and the user features' keys
//                           (enable_user_authentication, max_event_batch_size... docs/users.md)}
//                          omitted keys fall back to the published config defaults.
//       opts.env           extra `.env` lines as {NAME: value} (written quoted when needed)
//       opts.path          config reverb.servers.reverb.path (written to .env as REVERB_SERVER_PATH)
//       opts.maxRequestSize   REVERB_MAX_REQUEST_SIZE
//       opts.tls           PHP array for servers.reverb.options.tls, as a JS object
//       opts.files         extra files {relativePath: contents} (e.g. 'config/cache.php')
//       opts.reverbPhp     replaces the whole generated config/reverb.php
//       Project: {dir, apps, path, cleanup()}
//   startServer(opts) -> Promise<ReverbServer>
//       opts.project       a Project (default: createProject(opts) is called with the same opts,
//                          and removed again on stop)
//       opts.port          default: a free port;   opts.host default '127.0.0.1'
//       opts.workers       default 1 (env REVERB_E2E_WORKERS overrides the default)
//       opts.pingSweep     e.g. '1s' (passes --ping-sweep)
//       opts.drainWindow   passes --drain-window (default '200ms'; null omits the flag)
//       opts.cliPath       passes --path;  opts.debug passes --debug;  opts.args extra CLI args
//       opts.processEnv    extra real environment variables (REVERB_*/REDIS_* of the
//                          caller's environment are removed first so tests stay hermetic)
//       opts.readyTimeout  ms to wait for GET {path}/up (default 15000)
//       opts.expectFailure true: resolve once the process exits instead of waiting for /up
//   ReverbServer: {port, host, path, project, apps, proc, exited (Promise<{code, signal}>),
//                  httpUrl(p), wsUrl(key, {path, query}), app(idOrKeyOrIndex), output(), tail(n),
//                  waitForOutput(regexp, timeoutMs), stop({signal, timeout}) -> {code, signal}}
//   stopAll()                             stops every server and closes every client still open
//   freePort()                            -> Promise<number>
//   startRedis({args, conf, sentinel, port, timeout}) -> Promise<{port, proc, stop()}>
//                                         a private redis-server (no persistence; conf first,
//                                         sentinel: no persistence flags) answering on port, or on
//                                         a free port: one taken meanwhile (redis-server exits, or
//                                         another process answers there) is retried on another;
//                                         args: an array, or (port) => array (each port tried)
//
// Clients
//   RawClient.connect(server, appKey, {origin, headers, path, query, expectEstablished=true})
//       -> Promise<RawClient>; records every frame. Fields: socketId, established (raw first
//       frame), upgradeHeaders, frames (all text frames), controlFrames ([{type, data}]).
//       Methods: next(timeout) -> raw text of the next unread frame; nextJSON(timeout);
//       nextWhere(pred, timeout) -> first unread frame with pred(text) true (skips the others);
//       expectFrame(exactString | object, timeout) (object = compared as parsed JSON);
//       expectNoFrame() (ping/pong barrier: fails if anything else arrived first);
//       send(stringOrObject); subscribe(channel, {auth, channelData, raw}) (signs private and
//       presence channels with the app secret unless auth is given; channelData may be an object);
//       subscribeOk(channel, opts) (subscribe + expect subscription_succeeded, returns its data);
//       unsubscribe(channel); whisper(channel, event, data); ping(payload) (control frame);
//       closed -> Promise<{code, reason}>; close(code, reason); terminate().
//   signChannel(secret, socketId, channel, channelData?) -> hex HMAC (spec §4)
//   channelAuth(app, socketId, channel, channelData?) -> {auth, channel_data?} like PusherBroadcaster
//   pusherClient(server, app, opts)       pusher-js (Node build) with a Laravel-style authorizer;
//       opts.user = {id, info} for presence; opts.pusherOptions merged last; when
//       app.encryptionMasterKeyBase64 is set, private-encrypted-* auth carries shared_secret.
//   echoClient(server, app, opts)         laravel-echo `reverb` broadcaster on pusher-js, same auth.
//   waitConnected(pusher)                 -> Promise<socketId>
//   serverSdk(server, app, opts)          the `pusher` server SDK pointed at the server
//
// HTTP
//   api(server, app, method, path, {query, body, sign=true, signPath, prefix}) ->
//       Promise<{status, headers, text, json}>; path is e.g. '/apps/123456/events', the server
//       path prefix is prepended (override with prefix); signed like pusher-http-php (§6.2) over
//       signPath (default: path without prefix). body: object (JSON-encoded) or string.
//   signApi(secret, method, path, params, body) -> {query params incl. auth_signature}
//   httpGet(server, path, {method, headers}) -> {status, headers, text, json} (no signing)
//   rawHttp(server, chunks, {timeout, waitClose}) -> Promise<{raw, status, headers, body,
//       closedByServer}> over plain TCP, writing each chunk in its own write (to exercise
//       buffering across reads). Resolves once a Content-Length body is complete, or (with
//       waitClose) only when the server closes or the timeout passes.
//   parseHttpAnswer(raw) -> {status, headers (lower-case names), body}: an HTTP/1.x answer
//       as read from the socket (status 0 when there is no status line; body as it is).
//
// Utilities
//   waitFor(predicate, {timeout, interval, message}) polls until truthy. Timeouts here are timed with
//                                         performance.now() (monotonic), never Date.now().
//   eventOnce(emitterLike, name, timeout)  resolves with the first emitted value.

import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import Echo from 'laravel-echo';
import Pusher from 'pusher-js';
import PusherServer from 'pusher';
import WebSocket from 'ws';

const here = path.dirname(fileURLToPath(import.meta.url));

export const REVERB_BIN = process.env.REVERB_BIN || path.resolve(here, '../../../bin/reverb');

/**
 * Whether REVERB_BIN is the portable build (`go build -tags portable`, the code macOS and
 * Windows run): every connection served in the `reverb start` process, no worker processes.
 * REVERB_E2E_PORTABLE=1 or 0 says so; otherwise the binary is asked: its internal worker
 * command answers that worker processes are Linux-only.
 */
export const PORTABLE = (() => {
  const env = process.env.REVERB_E2E_PORTABLE;
  if (env === '1' || env === '0') return env === '1';
  if (!fs.existsSync(REVERB_BIN)) return false;
  const r = spawnSync(REVERB_BIN, ['_worker'], { encoding: 'utf8', timeout: 10000, stdio: ['ignore', 'pipe', 'pipe'] });
  return /Linux-only/.test(r.stderr ?? '');
})();

/** A node:test `skip` value: the reason on the portable build, false elsewhere. */
export function skipOnPortable(reason) {
  return PORTABLE ? `portable build: ${reason}` : false;
}

// Apps of spec §15. Keys are the config/reverb.php keys plus id/key/secret.
export const APP_A = Object.freeze({
  id: '123456', key: 'reverb-key', secret: 'reverb-secret',
  allowed_origins: ['*'], ping_interval: 60, activity_timeout: 30, max_message_size: 10000,
});
export const APP_B = Object.freeze({
  id: '654321', key: 'reverb-key-2', secret: 'reverb-secret-2',
  allowed_origins: ['*'], ping_interval: 10, activity_timeout: 30, max_connections: 1,
  max_message_size: 1000000,
});
export const APP_C = Object.freeze({
  id: '987654', key: 'reverb-key-3', secret: 'reverb-secret-3',
  allowed_origins: ['laravel.com'], ping_interval: 60, activity_timeout: 30, max_message_size: 1,
});

export function defaultApps() {
  return [APP_A, APP_B, APP_C].map((a) => ({ ...a }));
}

const DEFAULT_TIMEOUT = 3000;

// Everything started here, so stopAll() and the process exit hook can clean up.
const liveServers = new Set();
const liveClients = new Set();

process.on('exit', () => {
  for (const s of liveServers) {
    try { s.proc.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

// ---------------------------------------------------------------------------
// PHP literal writer (only what config files need).

function phpLiteral(v, indent = '') {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (v instanceof PhpRaw) return v.code;
  const inner = indent + '    ';
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => inner + phpLiteral(x, inner)).join(',\n')},\n${indent}]`;
  }
  const entries = Object.entries(v);
  if (entries.length === 0) return '[]';
  return `[\n${entries.map(([k, x]) => `${inner}${phpLiteral(k)} => ${phpLiteral(x, inner)}`).join(',\n')},\n${indent}]`;
}

class PhpRaw { constructor(code) { this.code = code; } }
/** php('env("X", 1)') embeds raw PHP code in a generated config value. */
export function php(code) { return new PhpRaw(code); }

const USER_KEYS = ['enable_user_authentication', 'user_authentication_timeout', 'enable_watchlist_events',
  'enable_subscription_count', 'max_presence_members_per_channel', 'max_event_channels_at_once',
  'max_event_name_length', 'max_event_payload_in_kb', 'max_event_batch_size'];

function appPhp(app) {
  const entry = {
    key: app.key,
    secret: app.secret,
    app_id: app.id,
    options: app.options ?? { host: 'localhost', port: 443, scheme: 'https', useTLS: true },
    allowed_origins: app.allowed_origins ?? ['*'],
    ping_interval: app.ping_interval ?? 60,
    activity_timeout: app.activity_timeout ?? 30,
    max_connections: app.max_connections ?? null,
    max_message_size: app.max_message_size ?? 10000,
    accept_client_events_from: app.accept_client_events_from ?? 'members',
  };
  if (app.rate_limiting !== undefined) entry.rate_limiting = app.rate_limiting;
  // Our own keys (docs/webhooks.md), written as given.
  if (app.webhooks !== undefined) entry.webhooks = app.webhooks;
  if (app.listeners !== undefined) entry.listeners = app.listeners;
  // Pusher's user features and limits (docs/users.md), written as given.
  for (const k of USER_KEYS) if (app[k] !== undefined) entry[k] = app[k];
  return entry;
}

function reverbConfigPhp(opts, apps) {
  const tls = opts.tls ?? {};
  return `<?php

// Generated by tests/e2e/lib/harness.mjs (the published Reverb config shape).
return [
    'default' => env('REVERB_SERVER', 'reverb'),

    'servers' => [
        'reverb' => [
            'host' => env('REVERB_SERVER_HOST', '0.0.0.0'),
            'port' => env('REVERB_SERVER_PORT', 8080),
            'path' => env('REVERB_SERVER_PATH', ''),
            'hostname' => env('REVERB_HOST'),
            'options' => [
                'tls' => ${phpLiteral(tls, '                ')},
            ],
            'max_request_size' => env('REVERB_MAX_REQUEST_SIZE', 10_000),
            'scaling' => [
                'enabled' => env('REVERB_SCALING_ENABLED', false),
                'channel' => env('REVERB_SCALING_CHANNEL', 'reverb'),
                'server' => [
                    'url' => env('REDIS_URL'),
                    'host' => env('REDIS_HOST', '127.0.0.1'),
                    'port' => env('REDIS_PORT', '6379'),
                    'username' => env('REDIS_USERNAME'),
                    'password' => env('REDIS_PASSWORD'),
                    'database' => env('REDIS_DB', '0'),
                    'timeout' => env('REDIS_TIMEOUT', 60),
                ],
            ],
            'pulse_ingest_interval' => env('REVERB_PULSE_INGEST_INTERVAL', 15),
            'telescope_ingest_interval' => env('REVERB_TELESCOPE_INGEST_INTERVAL', 15),
        ],
    ],

    'apps' => [
        'provider' => 'config',
        'apps' => ${phpLiteral(apps.map(appPhp), '        ')},
    ],
];
`;
}

function envLine(name, value) {
  if (value === null) return `${name}=null`;
  const s = String(value);
  return /^[A-Za-z0-9_.:\/@-]*$/.test(s) ? `${name}=${s}` : `${name}="${s.replace(/(["\\$])/g, '\\$1')}"`;
}

export async function createProject(opts = {}) {
  const base = process.env.REVERB_E2E_TMP || os.tmpdir();
  fs.mkdirSync(base, { recursive: true });
  const dir = fs.mkdtempSync(path.join(base, 'reverb-e2e-'));
  const apps = opts.apps ?? defaultApps();
  const env = {
    APP_NAME: 'Laravel',
    APP_ENV: 'local',
    APP_KEY: 'base64:5mJ9bGFyYXZlbC1leGFtcGxlLWFwcC1rZXktMzIhIQ==',
    BROADCAST_CONNECTION: 'reverb',
    CACHE_STORE: 'file',
    REVERB_APP_ID: apps[0]?.id ?? '',
    REVERB_APP_KEY: apps[0]?.key ?? '',
    REVERB_APP_SECRET: apps[0]?.secret ?? '',
    REVERB_HOST: 'localhost',
    REVERB_PORT: 8080,
    REVERB_SCHEME: 'http',
  };
  if (opts.path !== undefined) env.REVERB_SERVER_PATH = opts.path;
  if (opts.maxRequestSize !== undefined) env.REVERB_MAX_REQUEST_SIZE = opts.maxRequestSize;
  Object.assign(env, opts.env ?? {});
  fs.mkdirSync(path.join(dir, 'config'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'storage', 'framework', 'cache', 'data'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'bootstrap', 'cache'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'artisan'), '#!/usr/bin/env php\n<?php\n// placeholder: marks a Laravel project root\n');
  fs.writeFileSync(path.join(dir, '.env'), Object.entries(env).map(([k, v]) => envLine(k, v)).join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'config', 'reverb.php'), opts.reverbPhp ?? reverbConfigPhp(opts, apps));
  for (const [rel, contents] of Object.entries(opts.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), contents);
  }
  return {
    dir,
    apps,
    path: normalizePath(opts.path ?? ''),
    cleanup() {
      if (!process.env.REVERB_E2E_KEEP) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Reverb's path normalisation (§1.2): trim whitespace and slashes, one leading slash. */
export function normalizePath(p) {
  const t = String(p ?? '').trim().replace(/^\/+|\/+$/g, '');
  return t === '' ? '' : '/' + t;
}

/**
 * A private redis-server that answers on its port, ours (INFO's process_id is our child's).
 * Without opts.port the port is a free one, and when it was taken before redis-server bound it
 * (redis-server exits, or someone else answers there) another free port is tried. args may be
 * a function of the port (then called again for each port tried: a cluster node's bus port).
 */
export async function startRedis({ args = [], conf, sentinel = false, port, timeout = 10000 } = {}) {
  for (let attempt = 1; ; attempt++) {
    const p = port ?? await freePort();
    const extra = typeof args === 'function' ? await args(p) : args;
    const argv = [...(conf ? [conf] : []), ...(sentinel ? ['--sentinel'] : []), '--port', String(p), '--bind', '127.0.0.1',
      ...(sentinel ? [] : ['--save', '', '--appendonly', 'no']), ...extra];
    const proc = spawn('redis-server', argv, { stdio: 'ignore' });
    let exited = false;
    proc.on('exit', () => { exited = true; });
    const password = extra.includes('--requirepass') ? extra[extra.indexOf('--requirepass') + 1] : undefined;
    const deadline = performance.now() + timeout;
    let why = `no answer on ${p} within ${timeout} ms`;
    while (performance.now() < deadline) {
      if (exited) { why = `redis-server exited (port ${p} taken?)`; break; }
      const pid = await redisProcessId(p, password);
      if (pid === proc.pid) {
        return { port: p, proc, stop: () => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); } };
      }
      if (pid !== undefined) { why = `another process answers on ${p}`; break; }
      await sleep(20);
    }
    if (!exited) proc.kill('SIGKILL');
    if (port !== undefined || attempt >= 5) throw new Error(`redis-server did not start: ${why}`);
  }
}

/** The process_id of the redis-server answering on port (undefined: no answer yet). */
function redisProcessId(port, password) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    const done = (v) => { s.destroy(); resolve(v); };
    s.setTimeout(1000, () => done(undefined));
    s.on('error', () => done(undefined));
    s.on('connect', () => {
      const cmd = (...a) => `*${a.length}\r\n${a.map((x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`).join('')}`;
      s.write((password !== undefined ? cmd('AUTH', password) : '') + cmd('INFO', 'server'));
    });
    s.on('data', (d) => {
      buf += d.toString('latin1');
      const m = /process_id:(\d+)/.exec(buf);
      if (m) done(Number(m[1]));
      else if (/^-(?!NOAUTH)/m.test(buf) && !/^-LOADING/m.test(buf)) done(-1); // answered, not ours to tell
    });
  });
}

let nextPort = 0;

/** A free port: any, or with REVERB_E2E_PORTS=FROM-TO (a shared machine) one of that range, in turn. */
export async function freePort() {
  const m = /^(\d+)-(\d+)$/.exec(process.env.REVERB_E2E_PORTS ?? '');
  if (m) {
    const [from, to] = [Number(m[1]), Number(m[2])];
    for (let i = 0; i <= to - from; i++) {
      const p = from + (nextPort++ % (to - from + 1));
      if (await canListen(p)) return p;
    }
    throw new Error(`no free port in REVERB_E2E_PORTS=${process.env.REVERB_E2E_PORTS}`);
  }
  return anyFreePort();
}

function canListen(p) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', () => resolve(false));
    srv.listen(p, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function anyFreePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(predicate, { timeout = DEFAULT_TIMEOUT, interval = 20, message = 'condition' } = {}) {
  const deadline = performance.now() + timeout;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${message}`);
    await sleep(interval);
  }
}

export function eventOnce(emitter, name, timeout = DEFAULT_TIMEOUT) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms waiting for "${name}"`)), timeout);
    const on = emitter.once ? 'once' : 'bind';
    emitter[on](name, (v) => { clearTimeout(timer); resolve(v); });
  });
}

class ReverbServer {
  constructor({ proc, port, host, path: p, project, ownsProject }) {
    this.proc = proc;
    this.port = port;
    this.host = host;
    this.path = p;
    this.project = project;
    this.apps = project.apps;
    this.ownsProject = ownsProject;
    this.out = [];
    this.outListeners = new Set();
    const collect = (chunk) => {
      this.out.push(chunk.toString());
      for (const l of this.outListeners) l();
    };
    proc.stdout.on('data', collect);
    proc.stderr.on('data', collect);
    this.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        liveServers.delete(this);
        resolve({ code, signal });
      });
    });
  }

  output() { return this.out.join(''); }

  tail(n = 3000) {
    const o = this.output();
    return o.length > n ? '…' + o.slice(-n) : o;
  }

  httpUrl(p = '') { return `http://${this.host}:${this.port}${p}`; }

  wsUrl(key, { path: p = this.path, query = 'protocol=7&client=js&version=8.6.0&flash=false' } = {}) {
    return `ws://${this.host}:${this.port}${p}/app/${key}${query ? '?' + query : ''}`;
  }

  /** Finds an app by id, key, or index in the project's app list. */
  app(which) {
    if (typeof which === 'number') return this.apps[which];
    const a = this.apps.find((x) => x.id === which || x.key === which);
    if (!a) throw new Error(`no app ${which}`);
    return a;
  }

  async waitForOutput(re, timeout = DEFAULT_TIMEOUT) {
    const check = () => re.test(this.output());
    if (check()) return;
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.outListeners.delete(l);
        reject(new Error(`timed out waiting for ${re} in server output:\n${this.tail()}`));
      }, timeout);
      const l = () => {
        if (check()) {
          clearTimeout(timer);
          this.outListeners.delete(l);
          resolve();
        }
      };
      this.outListeners.add(l);
    });
  }

  async stop({ signal = 'SIGTERM', timeout = 5000 } = {}) {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill(signal);
      const t = setTimeout(() => this.proc.kill('SIGKILL'), timeout);
      const res = await this.exited;
      clearTimeout(t);
      if (this.ownsProject) this.project.cleanup();
      return res;
    }
    if (this.ownsProject) this.project.cleanup();
    return this.exited;
  }
}

function hermeticEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(REVERB_|REDIS_|APP_|CACHE_|DB_|PULSE_)/.test(k) && k !== 'REVERB_BIN') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export async function startServer(opts = {}) {
  const ownsProject = !opts.project;
  const project = opts.project ?? await createProject(opts);
  const bin = opts.bin ?? REVERB_BIN; // a copy inside the project, as a deploy puts it
  if (!fs.existsSync(bin)) throw new Error(`reverb binary not found at ${bin} (run make build)`);
  // A port picked by freePort() can be taken by someone else before reverb binds it (the
  // machine is shared): retry on a fresh port then, unless the caller chose the port.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(opts, project, ownsProject, opts.port ?? await freePort());
    } catch (err) {
      if (opts.port !== undefined || attempt >= 3 || !/address already in use/i.test(err.message)) {
        if (ownsProject) project.cleanup();
        throw err;
      }
    }
  }
}

async function launch(opts, project, ownsProject, port) {
  const host = opts.host ?? '127.0.0.1';
  const workers = opts.workers ?? Number(process.env.REVERB_E2E_WORKERS ?? 1);
  const args = ['start', '--dir', project.dir, '--host', host, '--port', String(port), '--workers', String(workers)];
  if (opts.pingSweep) args.push('--ping-sweep', opts.pingSweep);
  // Stopping a test server should not spread closes over the default 10 s drain window.
  const drainWindow = opts.drainWindow === undefined ? '200ms' : opts.drainWindow;
  if (drainWindow !== null) args.push('--drain-window', drainWindow);
  if (opts.cliPath !== undefined) args.push('--path', opts.cliPath);
  if (opts.debug) args.push('--debug');
  args.push(...(opts.args ?? []));
  const proc = spawn(opts.bin ?? REVERB_BIN, args, { cwd: project.dir, env: hermeticEnv(opts.processEnv), stdio: ['ignore', 'pipe', 'pipe'] });
  const p = opts.cliPath !== undefined && normalizePath(opts.cliPath) !== '' ? normalizePath(opts.cliPath) : project.path;
  const server = new ReverbServer({ proc, port, host, path: p, project, ownsProject });
  liveServers.add(server);
  if (opts.expectFailure) {
    await server.exited;
    if (ownsProject) project.cleanup();
    return server;
  }
  const timeout = opts.readyTimeout ?? 15000;
  const deadline = performance.now() + timeout;
  let exited = false;
  server.exited.then(() => { exited = true; });
  for (;;) {
    if (exited) {
      const res = await server.exited;
      throw new Error(`reverb start exited (${JSON.stringify(res)}) before answering ${p}/up; args ${args.join(' ')}\n${server.tail()}`);
    }
    try {
      const r = await httpGet(server, `${p}/up`, { timeout: 500 });
      // Still alive after the answer: it came from our process, not a squatter on the port.
      if (r.status === 200 && !exited) return server;
    } catch { /* not listening yet */ }
    if (performance.now() > deadline) {
      await server.stop({ signal: 'SIGKILL' });
      throw new Error(`reverb did not answer ${p}/up within ${timeout} ms; args ${args.join(' ')}\n${server.tail()}`);
    }
    await sleep(30);
  }
}

export async function stopAll() {
  for (const c of [...liveClients]) c.terminate();
  await Promise.all([...liveServers].map((s) => s.stop()));
}

// ---------------------------------------------------------------------------
// Signing (spec §4 and §6.2).

export function hmac(secret, s) {
  return crypto.createHmac('sha256', secret).update(s).digest('hex');
}

export function signChannel(secret, socketId, channel, channelData) {
  return hmac(secret, channelData ? `${socketId}:${channel}:${channelData}` : `${socketId}:${channel}`);
}

/** What Laravel's PusherBroadcaster answers for /broadcasting/auth. */
export function channelAuth(app, socketId, channel, channelData) {
  const out = { auth: `${app.key}:${signChannel(app.secret, socketId, channel, channelData)}` };
  if (channelData) out.channel_data = channelData;
  return out;
}

const needsAuth = (ch) => typeof ch === 'string' && (ch.startsWith('private') || ch.startsWith('presence'));

export function signApi(secret, method, signPath, params, body) {
  const q = { ...params };
  if (body !== undefined && body !== '') q.body_md5 = crypto.createHash('md5').update(body).digest('hex');
  const sorted = Object.keys(q).sort().map((k) => `${k}=${q[k]}`).join('&');
  q.auth_signature = hmac(secret, `${method}\n${signPath}\n${sorted}`);
  return q;
}

// ---------------------------------------------------------------------------
// HTTP.

function request(server, { method, path: p, headers = {}, body, timeout = 5000 }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: server.host, port: server.port, method, path: p, headers, agent: false, timeout }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, httpVersion: res.httpVersion, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${p}: timed out after ${timeout} ms`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export function httpGet(server, p, { method = 'GET', headers, timeout } = {}) {
  return request(server, { method, path: p, headers, timeout });
}

export async function api(server, app, method, p, { query = {}, body, sign = true, signPath, prefix = server.path, timestamp, headers = {} } = {}) {
  const bodyStr = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  let params = { ...query };
  if (sign) {
    params = signApi(app.secret, method, signPath ?? p, {
      auth_key: app.key,
      auth_timestamp: String(timestamp ?? Math.floor(Date.now() / 1000)),
      auth_version: '1.0',
      ...query,
    }, bodyStr);
  }
  const qs = new URLSearchParams(params).toString();
  const h = { ...headers };
  if (bodyStr !== undefined) {
    h['Content-Type'] ??= 'application/json';
    h['Content-Length'] = Buffer.byteLength(bodyStr);
  }
  return request(server, { method, path: `${prefix}${p}${qs ? '?' + qs : ''}`, headers: h, body: bodyStr });
}

export function parseHttpAnswer(raw) {
  const m = /^HTTP\/\d\.\d (\d{3})/.exec(raw);
  const sep = raw.indexOf('\r\n\r\n');
  const headers = {};
  for (const line of raw.slice(0, sep < 0 ? raw.length : sep).split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: m ? Number(m[1]) : 0, headers, body: sep < 0 ? '' : raw.slice(sep + 4) };
}

export function rawHttp(server, chunks, { timeout = 5000, waitClose = false } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(server.port, server.host);
    const got = [];
    const timer = setTimeout(() => { sock.destroyedByUs = true; sock.destroy(); finish(); }, timeout);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const raw = Buffer.concat(got).toString('latin1');
      resolve({ raw, ...parseHttpAnswer(raw), closedByServer });
    };
    let closedByServer = false;
    sock.on('data', (d) => {
      got.push(d);
      // Keep-alive servers do not close: stop once a complete Content-Length body is in.
      const raw = Buffer.concat(got).toString('latin1');
      const sep = raw.indexOf('\r\n\r\n');
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(raw.slice(0, sep + 2));
      if (!waitClose && sep >= 0 && m && Buffer.byteLength(raw.slice(sep + 4), 'latin1') >= Number(m[1])) {
        sock.destroyedByUs = true;
        sock.destroy();
        finish();
      }
    });
    sock.on('end', () => { closedByServer = true; finish(); });
    sock.on('close', () => { if (!sock.destroyedByUs) closedByServer = true; finish(); });
    sock.on('error', (e) => { if (got.length) finish(); else { clearTimeout(timer); reject(e); } });
    sock.on('connect', async () => {
      for (const c of chunks) {
        if (sock.destroyed) return;
        await new Promise((r) => sock.write(c, r));
        if (chunks.length > 1) await new Promise((r) => setImmediate(r));
      }
    });
  });
}

// ---------------------------------------------------------------------------
// Raw WebSocket client.

export class RawClient {
  constructor(server, app) {
    this.server = server;
    this.app = app;
    this.frames = [];
    this.controlFrames = [];
    this.cursor = 0;
    this.waiters = [];
    this.socketId = undefined;
    this.established = undefined;
    this.upgradeHeaders = undefined;
    this.closeInfo = undefined;
  }

  static async connect(server, appKey, { origin, headers = {}, path: p, query, expectEstablished = true, timeout = DEFAULT_TIMEOUT } = {}) {
    const app = server.apps.find((a) => a.key === appKey);
    const c = new RawClient(server, app);
    const ws = new WebSocket(server.wsUrl(appKey, { path: p, query }), { origin, headers, perMessageDeflate: false, handshakeTimeout: timeout });
    c.ws = ws;
    liveClients.add(c);
    c.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        liveClients.delete(c);
        c.closeInfo = { code, reason: reason.toString() };
        resolve(c.closeInfo);
        c._wake();
      });
    });
    ws.on('upgrade', (res) => { c.upgradeHeaders = res.headers; });
    ws.on('message', (data) => { c.frames.push(data.toString()); c._wake(); });
    ws.on('ping', (data) => { c.controlFrames.push({ type: 'ping', data: data.toString() }); c._wake(); });
    ws.on('pong', (data) => { c.controlFrames.push({ type: 'pong', data: data.toString() }); c._wake(); });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('unexpected-response', (req, res) => {
        const chunks = [];
        res.on('data', (d) => chunks.push(d));
        res.on('end', () => {
          const e = new Error(`WebSocket upgrade refused: ${res.statusCode} ${Buffer.concat(chunks)}`);
          e.status = res.statusCode;
          e.headers = res.headers;
          e.body = Buffer.concat(chunks).toString();
          reject(e);
        });
      });
      ws.once('error', reject);
    });
    ws.on('error', () => { /* surfaced through close */ });
    if (expectEstablished) {
      c.established = await c.next(timeout);
      const msg = JSON.parse(c.established);
      if (msg.event !== 'pusher:connection_established') {
        throw new Error(`expected pusher:connection_established, got ${c.established}`);
      }
      c.socketId = JSON.parse(msg.data).socket_id;
    }
    return c;
  }

  _wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  _changed(timeout) {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, timeout);
      this.waiters.push(() => { clearTimeout(t); resolve(); });
    });
  }

  /** Raw text of the next unread frame; rejects on timeout or close. */
  async next(timeout = DEFAULT_TIMEOUT) {
    const deadline = performance.now() + timeout;
    while (this.cursor >= this.frames.length) {
      if (this.closeInfo) {
        throw new Error(`socket closed (${this.closeInfo.code} ${this.closeInfo.reason}) while waiting for a frame; read so far: ${JSON.stringify(this.frames)}`);
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new Error(`no frame within ${timeout} ms; frames so far: ${JSON.stringify(this.frames)}\nserver output:\n${this.server.tail(1500)}`);
      }
      await this._changed(left);
    }
    return this.frames[this.cursor++];
  }

  /** Skips frames until one satisfies pred(rawText); returns it. Skipped frames stay in `frames`. */
  async nextWhere(pred, timeout = DEFAULT_TIMEOUT) {
    const deadline = performance.now() + timeout;
    for (;;) {
      const f = await this.next(Math.max(1, deadline - performance.now()));
      if (pred(f)) return f;
    }
  }

  async nextJSON(timeout) {
    return JSON.parse(await this.next(timeout));
  }

  /** expected: exact string, or an object compared as parsed JSON (nested data strings parsed too). */
  async expectFrame(expected, timeout) {
    const got = await this.next(timeout);
    if (typeof expected === 'string') {
      if (got !== expected) throw frameMismatch(expected, got);
    } else if (!sameJSON(parseDeep(got), parseDeep(expected))) {
      throw frameMismatch(JSON.stringify(expected), got);
    }
    return got;
  }

  /**
   * Asserts that nothing arrived: sends pusher:ping and requires pusher:pong to be the next
   * frame. The server handles one connection's messages in order, so anything it queued
   * for us before handling the ping shows up first.
   */
  async expectNoFrame(timeout) {
    this.send({ event: 'pusher:ping' });
    const got = await this.next(timeout);
    if (got !== '{"event":"pusher:pong"}') {
      throw new Error(`expected no frame (pong barrier), got ${got}`);
    }
  }

  send(m) {
    this.ws.send(typeof m === 'string' ? m : JSON.stringify(m));
  }

  subscribe(channel, { auth, channelData, raw } = {}) {
    if (raw) return this.send(raw);
    const cd = channelData === undefined || typeof channelData === 'string' ? channelData : JSON.stringify(channelData);
    const data = { channel };
    if (auth === undefined && needsAuth(channel)) {
      auth = channelAuth(this.app, this.socketId, channel, cd).auth;
    }
    if (auth !== undefined) data.auth = auth;
    if (cd !== undefined) data.channel_data = cd;
    this.send({ event: 'pusher:subscribe', data });
  }

  /** Subscribes and waits for subscription_succeeded; returns its parsed data. */
  async subscribeOk(channel, opts) {
    this.subscribe(channel, opts);
    const got = await this.next();
    const m = JSON.parse(got);
    if (m.event !== 'pusher_internal:subscription_succeeded' || (channel !== '' && m.channel !== channel)) {
      throw new Error(`subscribe ${channel}: expected subscription_succeeded, got ${got}`);
    }
    return JSON.parse(m.data);
  }

  unsubscribe(channel) {
    this.send({ event: 'pusher:unsubscribe', data: { channel } });
  }

  whisper(channel, event, data) {
    const m = { event, channel };
    if (data !== undefined) m.data = data;
    this.send(m);
  }

  ping(payload = '') { this.ws.ping(payload); }

  pong(payload = '') { this.ws.pong(payload); }

  async nextControl(type, timeout = DEFAULT_TIMEOUT) {
    await waitFor(() => this.controlFrames.some((f) => f.type === type), { timeout, message: `${type} control frame` });
    const i = this.controlFrames.findIndex((f) => f.type === type);
    return this.controlFrames.splice(i, 1)[0];
  }

  close(code, reason) { this.ws.close(code, reason); return this.closed; }

  terminate() {
    liveClients.delete(this);
    try { this.ws.terminate(); } catch { /* already closed */ }
  }

  /** Resolves with {code, reason} once closed, or rejects after timeout. */
  async waitClosed(timeout = DEFAULT_TIMEOUT) {
    let t;
    const r = await Promise.race([
      this.closed,
      new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`socket not closed within ${timeout} ms; frames: ${JSON.stringify(this.frames)}`)), timeout); }),
    ]);
    clearTimeout(t);
    return r;
  }
}

function parseDeep(v) {
  if (typeof v === 'string') {
    try { return parseDeep(JSON.parse(v)); } catch { return v; }
  }
  if (Array.isArray(v)) return v.map(parseDeep);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, parseDeep(x)]));
  return v;
}

function sameJSON(a, b) {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && sameJSON(a[k], b[k]));
}

/** Deep equality of JSON values where key order does not matter but arrays vs objects do. */
export { sameJSON, parseDeep };

function frameMismatch(expected, got) {
  const e = new Error(`frame mismatch\n  expected: ${expected}\n  got:      ${got}`);
  e.expected = expected;
  e.actual = got;
  return e;
}

// ---------------------------------------------------------------------------
// pusher-js and laravel-echo.

function laravelAuthorizer(app, user) {
  // PusherBroadcaster: private -> {auth}; presence -> {auth, channel_data} with user_id as a
  // string and user_info omitted when falsy.
  return (channel) => ({
    authorize(socketId, callback) {
      let cd;
      if (channel.name.startsWith('presence')) {
        if (!user) return callback(new Error('no user for presence channel'), null);
        const data = { user_id: String(user.id) };
        if (user.info) data.user_info = user.info;
        cd = JSON.stringify(data);
      }
      const res = channelAuth(app, socketId, channel.name, cd);
      if (channel.name.startsWith('private-encrypted-') && app.encryptionMasterKeyBase64) {
        // PusherBroadcaster (pusher-http-php): base64(sha256(channel . master key, raw)).
        const master = Buffer.from(app.encryptionMasterKeyBase64, 'base64');
        res.shared_secret = crypto.createHash('sha256').update(Buffer.concat([Buffer.from(channel.name), master])).digest('base64');
      }
      callback(null, res);
    },
  });
}

export function pusherClient(server, app, { user, pusherOptions = {} } = {}) {
  const p = new Pusher(app.key, {
    cluster: '',
    wsHost: server.host,
    wsPort: server.port,
    wssPort: server.port,
    wsPath: server.path,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
    authorizer: laravelAuthorizer(app, user),
    ...pusherOptions,
  });
  liveClients.add({ terminate: () => p.disconnect() });
  return p;
}

export function echoClient(server, app, { user, echoOptions = {} } = {}) {
  const e = new Echo({
    broadcaster: 'reverb',
    key: app.key,
    wsHost: server.host,
    wsPort: server.port,
    wssPort: server.port,
    wsPath: server.path,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
    Pusher,
    authorizer: laravelAuthorizer(app, user),
    ...echoOptions,
  });
  liveClients.add({ terminate: () => e.disconnect() });
  return e;
}

/** Resolves with the socket id once the pusher-js connection is established. */
export function waitConnected(pusher, timeout = DEFAULT_TIMEOUT) {
  const conn = pusher.connection ?? pusher.connector?.pusher?.connection;
  if (conn.state === 'connected') return Promise.resolve(conn.socket_id);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`pusher-js not connected within ${timeout} ms (state ${conn.state})`)), timeout);
    const on = () => {
      if (conn.state === 'connected') {
        clearTimeout(t);
        conn.unbind('state_change', on);
        resolve(conn.socket_id);
      }
    };
    conn.bind('state_change', on);
  });
}

export function serverSdk(server, app, opts = {}) {
  return new PusherServer({
    appId: app.id,
    key: app.key,
    secret: app.secret,
    host: server.host,
    port: String(server.port),
    useTLS: false,
    ...opts,
  });
}
