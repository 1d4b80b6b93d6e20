// What the differential tests against PHP Reverb (differential*.test.mjs) share: their
// seed lists and ports, the script generator's random numbers, the lock-step play of raw
// clients on both servers, and how frames are compared, with the normalisers of the
// deliberate differences of docs/compatibility.md that more than one of them meets.
// PHP Reverb itself is started by php-reverb.mjs; the Laravel app it runs in is
// unpacked by laravel-app.mjs (unpackLaravelApp, laravelMissing).
//
// Exported API
//   startPair(prefix, portEnv, apps) -> Promise<{php, go, stop()}>   the Laravel test app
//                                   unpacked into a folder prefix*, PHP Reverb started in it and
//                                   this server beside it, both serving apps, on the ports of
//                                   serverPorts(portEnv); stop() stops both and removes the folder
//   seedList(envName, defaults)     the seeds of env envName ("1,2,3", ranges "100-199"),
//                                   defaults when it is unset
//   serverPorts(envName) -> Promise<{php, go}>   env envName=N: ports N (PHP) and N+1;
//                                   unset: a free port for PHP, go undefined (startServer picks)
//   rng(seed)                       mulberry32: {next, int(n), pick(xs), chance(p)}; the same
//                                   seed gives the same script everywhere
//   genScript(seed, steps, genOp)   steps ops, each genOp(r) with r = rng(seed)
//   pongBarrier(server, entries, {want, strict})   each open client of entries
//                                   ([index, RawClient, mark]) sends pusher:ping and waits for
//                                   want(index) pongs (default 1) among its frames from mark
//                                   on; strict (default): no pong within 5 s throws
//   quietFor(ms, count)             waits until count() did not change for ms
//   closeAll(clients)               terminates every open client, waits until all are closed
//   LockStep                        one server's raw clients in a script: clients[i], marks[i],
//                                   socket ids named S0, S1... by order of appearance;
//                                   connect(i, key), normalise(text), settle({want, quietMs}),
//                                   take(closedMarker), end()
//   canonical(frame)                a frame as clients read it: parsed, data strings parsed
//                                   too, keys sorted; not JSON: as it is
//   staleCachedMemberRemoved(phpFrames, goFrames)
//   resubscribeMemberRemoved(channel, phpFrames, goFrames)

import { RawClient, freePort, parseDeep, startServer } from './harness.mjs';
import { unpackLaravelApp } from './laravel-app.mjs';
import { startPhpReverb } from './php-reverb.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const PONG = '{"event":"pusher:pong"}';

export function seedList(envName, defaults) {
  const env = process.env[envName];
  if (!env) return defaults;
  const out = [];
  for (const part of env.split(',')) {
    const m = /^(\d+)-(\d+)$/.exec(part.trim());
    if (m) for (let s = Number(m[1]); s <= Number(m[2]); s++) out.push(s);
    else if (part.trim()) out.push(Number(part));
  }
  return out;
}

export async function serverPorts(envName) {
  const base = Number(process.env[envName] || 0);
  return { php: base || await freePort(), go: base ? base + 1 : undefined };
}

export async function startPair(prefix, portEnv, apps) {
  const unpacked = await unpackLaravelApp(prefix);
  let php;
  try {
    const ports = await serverPorts(portEnv);
    php = await startPhpReverb(unpacked.dir, ports.php, apps);
    const go = await startServer({ apps, port: ports.go });
    return {
      php,
      go,
      async stop() {
        await go.stop();
        await php.stop();
        unpacked.cleanup();
      },
    };
  } catch (e) {
    if (php) await php.stop();
    unpacked.cleanup();
    throw e;
  }
}

export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
    chance: (p) => next() < p,
  };
}

export function genScript(seed, steps, genOp) {
  const r = rng(seed);
  const ops = [];
  for (let i = 0; i < steps; i++) ops.push(genOp(r));
  return ops;
}

// ---------------------------------------------------------------------------
// Lock-step: after each step every open client passes a ping/pong barrier, then the
// servers go quiet.

export async function pongBarrier(server, entries, { want = () => 1, strict = true } = {}) {
  await Promise.all(entries.map(async ([i, c, from]) => {
    if (c.closeInfo) return;
    c.send({ event: 'pusher:ping' });
    const n = want(i);
    const pongs = () => c.frames.slice(from).filter((f) => f === PONG).length;
    const deadline = performance.now() + 5000;
    while (pongs() < n && !c.closeInfo) {
      if (performance.now() > deadline) {
        if (strict) throw new Error(`no pong from ${server.port}`);
        break;
      }
      await sleep(5);
    }
  }));
}

export async function quietFor(ms, count) {
  for (;;) {
    const before = count();
    await sleep(ms);
    if (count() === before) break;
  }
}

export async function closeAll(clients) {
  const list = [...clients];
  for (const c of list) if (!c.closeInfo) c.terminate();
  await Promise.all(list.map((c) => c.closed));
}

export class LockStep {
  constructor(server) {
    this.server = server;
    this.clients = [];
    this.marks = [];
    this.ids = new Map(); // socket id -> normalised name, by order of appearance
  }

  async connect(i, key) {
    const c = await RawClient.connect(this.server, key);
    if (!this.ids.has(c.socketId)) this.ids.set(c.socketId, `S${this.ids.size}`);
    this.clients[i] = c;
    this.marks[i] = 0;
    return c;
  }

  normalise(text) {
    let t = text;
    for (const [id, name] of this.ids) t = t.split(id).join(name);
    return t;
  }

  // Every open client passes the barrier (want(i) pongs), then nothing arrives for quietMs.
  async settle({ want, quietMs = 25 } = {}) {
    await pongBarrier(this.server, this.clients.map((c, i) => [i, c, this.marks[i]]), { want });
    await quietFor(quietMs, () => this.clients.reduce((n, c) => n + c.frames.length, 0));
  }

  // Each client's frames since the last step, without the barrier's pong, normalised; a
  // close once, as closedMarker(client) gives it.
  take(closedMarker = (c) => `<closed ${c.closeInfo.code}>`) {
    return this.clients.map((c, i) => {
      const fresh = c.frames.slice(this.marks[i]);
      this.marks[i] = c.frames.length;
      const last = fresh.lastIndexOf(PONG);
      if (last >= 0) fresh.splice(last, 1);
      const out = fresh.map((f) => this.normalise(f));
      if (c.closeInfo && !c.closeReported) {
        c.closeReported = true;
        out.push(closedMarker(c));
      }
      return out;
    });
  }

  end() { return closeAll(this.clients); }
}

// ---------------------------------------------------------------------------
// Comparing.

// Compared as clients read them: parsed, data strings parsed too, key order ignored.
export function canonical(frame) {
  if (frame.startsWith('<closed')) return frame;
  const sort = (v) => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort(v[k])]));
    return v;
  };
  try {
    return JSON.stringify(sort(parseDeep(JSON.parse(frame))));
  } catch {
    return frame;
  }
}

// docs/compatibility.md §1: on presence-cache- channels Reverb caches member_removed too, so
// a later subscriber may get a stale member_removed as its cached message, where we send
// the last broadcast or cache_miss. That one frame is not compared.
export function staleCachedMemberRemoved(phpFrames, goFrames) {
  const a = phpFrames.map((f) => { try { return JSON.parse(f); } catch { return {}; } });
  const b = goFrames.map((f) => { try { return JSON.parse(f); } catch { return {}; } });
  const out = [phpFrames.slice(), goFrames.slice()];
  for (let i = 1; i < a.length && i < b.length; i++) {
    const ch = a[i].channel;
    if (a[i].event === 'pusher_internal:member_removed' && typeof ch === 'string' && ch.startsWith('presence-cache-') &&
        a[i - 1].event === 'pusher_internal:subscription_succeeded' && a[i - 1].channel === ch &&
        b[i - 1].event === 'pusher_internal:subscription_succeeded' && b[i - 1].channel === ch && b[i].channel === ch) {
      out[0][i] = out[1][i] = '<cached message on a presence-cache- channel>';
    }
  }
  return out;
}

// docs/compatibility.md §1: a socket subscribing again to a presence channel as another
// user makes us send member_removed for the user it was (when no other socket keeps that
// user present); Reverb sends none. channel: what the step subscribed to (anything else
// than a presence channel: no change); our extra member_removed on it is dropped.
export function resubscribeMemberRemoved(channel, phpFrames, goFrames) {
  if (typeof channel !== 'string' || !channel.startsWith('presence-')) return goFrames;
  const removed = (f) => { try { const m = JSON.parse(f); return m.event === 'pusher_internal:member_removed' && m.channel === channel; } catch { return false; } };
  if (phpFrames.some(removed)) return goFrames;
  return goFrames.filter((f) => !removed(f));
}
