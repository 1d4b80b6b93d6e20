// Helpers for the supervisor end-to-end tests: the restart flag written by
// Laravel's own cache classes (Debian's php-laravel-framework), worker
// processes found through /proc, and a fleet of pusher-js clients that records
// what every socket saw.

import { spawnSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { pusherClient, waitFor } from './harness.mjs';

// PHP run with the project dir, the store ('file' or 'database'), the key
// prefix, and an action: 'migrate' creates the cache table (a real app has
// run its migrations), 'flag' is what `php artisan reverb:restart` does:
// Cache::forever('laravel:reverb:restart', time()).
const FLAG_PHP = `<?php
require 'Illuminate/autoload.php';
[$self, $base, $store, $prefix, $action] = $argv;
if ($store === 'file') {
    $s = new Illuminate\\Cache\\FileStore(new Illuminate\\Filesystem\\Filesystem, "$base/storage/framework/cache/data");
} else {
    $capsule = new Illuminate\\Database\\Capsule\\Manager;
    $capsule->addConnection(['driver' => 'sqlite', 'database' => "$base/database/database.sqlite", 'prefix' => '']);
    $conn = $capsule->getConnection();
    if ($action === 'migrate') {
        $conn->getSchemaBuilder()->create('cache', function ($t) {
            $t->string('key')->primary();
            $t->mediumText('value');
            $t->integer('expiration');
        });
        exit(0);
    }
    $s = new Illuminate\\Cache\\DatabaseStore($conn, 'cache', $prefix);
}
(new Illuminate\\Cache\\Repository($s))->forever('laravel:reverb:restart', time());
`;

/** Why PHP with Illuminate cannot run here, or '' when it can. */
export function phpMissing() {
  const r = spawnSync('php', ['-r', "require 'Illuminate/autoload.php'; echo class_exists('Illuminate\\\\Cache\\\\FileStore') && class_exists('Illuminate\\\\Database\\\\Capsule\\\\Manager') && extension_loaded('pdo_sqlite') ? 'yes' : 'no';"], { encoding: 'utf8' });
  if (r.error) return `php not runnable: ${r.error.message}`;
  if (r.stdout.trim() !== 'yes') return `php lacks Illuminate cache/database classes or pdo_sqlite: ${r.stdout}${r.stderr}`;
  return '';
}

function phpScript(dir) {
  const f = path.join(dir, 'reverb-e2e-flag.php');
  if (!fs.existsSync(f)) fs.writeFileSync(f, FLAG_PHP);
  return f;
}

/** Runs the PHP cache code; resolves with the wall time (ms) it finished at. */
export function runPhp(dir, store, prefix, action) {
  return new Promise((resolve, reject) => {
    const p = spawn('php', [phpScript(dir), dir, store, prefix, action], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('exit', (code) => (code === 0 ? resolve(Date.now()) : reject(new Error(`php ${action} failed (${code}): ${out}`))));
  });
}

/** Child pids of pid (the supervisor's workers), from /proc. */
export function childPids(pid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

/**
 * A fleet of pusher-js clients subscribed to one public channel. Each record
 * keeps the socket ids it had, its subscription intervals (from
 * subscription_succeeded to leaving the connected state, in client time),
 * the event sequence numbers received, those received again (dups), and
 * errors.
 */
export class Fleet {
  constructor(server, app, channel, event) {
    this.server = server;
    this.app = app;
    this.channel = channel;
    this.event = event;
    this.records = [];
  }

  async connect(n, batch = 50) {
    for (let i = 0; i < n; i += batch) {
      const group = [];
      for (let j = i; j < Math.min(n, i + batch); j++) group.push(this.add());
      await Promise.all(group.map((r) => r.subscribed));
    }
  }

  add() {
    const p = pusherClient(this.server, this.app);
    const rec = { p, socketIds: [], intervals: [], cur: null, seqs: new Set(), dups: [], errors: [], stateChanges: 0 };
    const conn = p.connection;
    conn.bind('state_change', ({ previous, current }) => {
      rec.stateChanges++;
      if (previous === 'connected' && rec.cur) {
        rec.cur.end = Date.now();
        rec.cur = null;
      }
      if (current === 'connected') {
        rec.socketIds.push(conn.socket_id);
        // The socket's end is when its close frame arrives: nothing can
        // follow it. pusher-js changes state only once the TCP connection
        // is closed as well, which under load can be much later (the
        // server answers the client's close reply after its other work).
        const sid = conn.socket_id;
        conn.connection?.transport?.socket?._driver?.on?.('close', () => {
          if (rec.cur && rec.cur.socketId === sid) {
            rec.cur.end = Date.now();
            rec.cur = null;
          }
        });
      }
    });
    conn.bind('error', (e) => rec.errors.push(e));
    rec.subscribed = new Promise((resolve) => {
      const ch = p.subscribe(this.channel);
      ch.bind('pusher:subscription_succeeded', () => {
        rec.cur = { start: Date.now(), end: Infinity, socketId: conn.socket_id };
        rec.intervals.push(rec.cur);
        resolve();
      });
      ch.bind(this.event, (d) => {
        if (rec.seqs.has(d.seq)) rec.dups.push({ seq: d.seq, socketIds: rec.socketIds.slice() });
        rec.seqs.add(d.seq);
      });
    });
    this.records.push(rec);
    return rec;
  }

  socketId(rec) { return rec.p.connection.state === 'connected' ? rec.p.connection.socket_id : null; }

  /** Resolves once every client is connected and subscribed again. */
  async settled(timeout = 20000) {
    await waitFor(() => this.records.every((r) => r.cur !== null), { timeout, message: 'every client subscribed' });
  }

  /**
   * Events accepted by the API ({seq, tReq, tResp}) that a client subscribed
   * over the whole call (subscribed before the request, still connected
   * slackMs after the response) did not receive.
   */
  misses(events, slackMs) {
    const out = [];
    for (const e of events) {
      for (const r of this.records) {
        const must = r.intervals.some((iv) => iv.start < e.tReq && iv.end > e.tResp + slackMs);
        if (must && !r.seqs.has(e.seq)) out.push({ seq: e.seq, socketIds: r.socketIds });
      }
    }
    return out;
  }

  /**
   * For events a client missed although it was subscribed when the call was
   * made: how long after the API response its socket closed (ms), sorted.
   */
  missGaps(events) {
    const gaps = [];
    for (const e of events) {
      for (const r of this.records) {
        if (r.seqs.has(e.seq)) continue;
        const iv = r.intervals.find((x) => x.start < e.tReq && x.end > e.tResp);
        if (iv) gaps.push(iv.end - e.tResp);
      }
    }
    return gaps.sort((a, b) => a - b);
  }

  disconnect() { for (const r of this.records) r.p.disconnect(); }
}

/** Triggers `event` on `channel` every periodMs until stop(); records each call. */
export function eventStream(sdk, channel, event, periodMs) {
  const events = [];
  const failures = [];
  let seq = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      const s = ++seq;
      const tReq = Date.now();
      try {
        const res = await sdk.trigger(channel, event, { seq: s });
        if (res.status === 200) events.push({ seq: s, tReq, tResp: Date.now() });
        else failures.push({ seq: s, status: res.status });
      } catch (e) {
        failures.push({ seq: s, error: String(e?.message ?? e), status: e?.status });
      }
      await new Promise((r) => setTimeout(r, periodMs));
    }
  })();
  return { events, failures, async stop() { running = false; await done; } };
}

/** Opens short-lived raw connections back to back until stop(); counts failures. */
export function connectionChurn(connect, holdMs) {
  let ok = 0;
  const failures = [];
  let running = true;
  const done = (async () => {
    while (running) {
      try {
        const c = await connect();
        ok++;
        await new Promise((r) => setTimeout(r, holdMs));
        c.close();
      } catch (e) {
        failures.push(String(e?.message ?? e));
      }
    }
  })();
  return { get ok() { return ok; }, failures, async stop() { running = false; await done; } };
}
