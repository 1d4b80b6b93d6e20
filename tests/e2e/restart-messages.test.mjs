// Messages across zero-downtime restarts: pairs of pusher-js clients on a
// private channel whisper a counter to each other every 20 ms while the
// HTTP API triggers a numbered event on every pair's channel every 20 ms,
// through several restarts (SIGHUP) of one server, and of two nodes on one
// Redis whose pairs span both. Clients move to the new generation as they
// are closed with 4200; what was accepted while a receiver and (for a
// whisper) its sender were both subscribed must reach the receiver exactly
// once, and each sender's messages in order. What was sent while either
// side was moving may be lost (Pusher's semantics), never duplicated or
// reordered.
//
// REVERB_E2E_RESTART_PAIRS (4), REVERB_E2E_RESTARTS (3) and
// REVERB_E2E_RESTART_SLACK (ms, 300) hunt harder; REVERB_E2E_RESTART_PORT=N
// uses ports N.. (a server per port, Redis first in the Redis case);
// otherwise free ports.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, test } from 'node:test';

import { PORTABLE, createProject, defaultApps, freePort, pusherClient, serverSdk, startRedis, startServer, stopAll, waitFor } from './lib/harness.mjs';

const PAIRS = Number(process.env.REVERB_E2E_RESTART_PAIRS ?? 4);
const RESTARTS = Number(process.env.REVERB_E2E_RESTARTS ?? 3);
const TICK = 20; // ms between a sender's messages
const DRAIN = 1500; // ms, the drain window
// A message sent less than this before a side's socket closed is not
// required: the close and the message may cross (the server closes at a
// point of the bus's order the client cannot see, and on a busy machine
// its close frame can take a while to be written).
const SLACK = Number(process.env.REVERB_E2E_RESTART_SLACK ?? 300);

const haveRedis = spawnSync('redis-server', ['--version']).status === 0;
const basePort = Number(process.env.REVERB_E2E_RESTART_PORT ?? 0);
let nextPort = 0;
const port = async () => (basePort ? basePort + nextPort++ : freePort());

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

after(() => stopAll());

/**
 * One pusher-js client of a pair: it whispers {from, n} on its channel while
 * connected and subscribed, and records its subscribed intervals and
 * everything it receives.
 */
class Peer {
  constructor(server, app, name, channel) {
    this.name = name;
    this.channel = channel;
    this.sent = []; // {n, t, sock}
    this.got = []; // {kind: 'w'|'api', from, n, t, sock}
    this.intervals = []; // {sock, S, E}
    this.errors = [];
    this.p = pusherClient(server, app);
    const conn = this.p.connection;
    conn.bind('state_change', ({ previous }) => {
      if (previous === 'connected') {
        const open = this.intervals.at(-1);
        if (open && open.E === Infinity) open.E = now();
      }
    });
    conn.bind('error', (e) => {
      const err = e?.error ?? e;
      if (!(err?.type === 'PusherError' && err.data?.code >= 4200 && err.data?.code <= 4299)) this.errors.push(JSON.stringify(err));
    });
    this.ch = this.p.subscribe(channel);
    this.ch.bind('pusher:subscription_succeeded', () => {
      this.intervals.push({ sock: conn.socket_id, S: now(), E: Infinity });
    });
    this.ch.bind('pusher:subscription_error', (e) => this.errors.push(`subscription_error ${JSON.stringify(e)}`));
    this.ch.bind('client-tick', (d) => this.got.push({ kind: 'w', from: d.from, n: d.n, t: now(), sock: conn.socket_id }));
    this.ch.bind('seq', (d) => this.got.push({ kind: 'api', from: 'api', n: d.n, t: now(), sock: conn.socket_id }));
    this.n = 0;
  }

  subscribed() {
    return this.p.connection.state === 'connected' && this.ch.subscribed && this.intervals.at(-1)?.E === Infinity;
  }

  tick() {
    if (!this.subscribed()) return;
    const n = ++this.n;
    this.sent.push({ n, t: now(), sock: this.p.connection.socket_id });
    this.ch.trigger('client-tick', { from: this.name, n });
  }

  /** The interval holding time t (subscription confirmed before it). */
  intervalAt(t) {
    return this.intervals.find((i) => i.S < t && t < i.E);
  }

  disconnect() {
    this.p.disconnect();
  }
}

/** Triggers {n} on every pair's channel every TICK ms; records when each was asked and answered. */
function apiStream(sdk, channels) {
  const events = []; // {n, R, A}
  const failures = [];
  let n = 0;
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const k = ++n;
      const R = now();
      try {
        await sdk.trigger(channels, 'seq', { n: k });
        events.push({ n: k, R, A: now() });
      } catch (e) {
        failures.push(`${k}: ${e.status ?? ''} ${e.body ?? e.message}`);
      }
      await sleep(TICK);
    }
  })();
  return { events, failures, stop: async () => { stopped = true; await done; } };
}

/**
 * Per receiver: what was accepted while it (and the whisper's sender) was
 * subscribed and did not arrive, what arrived twice, what arrived after a
 * later message of the same sender.
 *
 * A message is required when both sides stayed subscribed SLACK ms past
 * it, and also, with no slack, when a later message of the same sender
 * (sent on the same socket, for a whisper) reached the receiver's socket
 * that was subscribed when it was sent: the server took them in that
 * order, so the later one arriving proves the earlier one was accepted
 * while the receiver was there.
 */
function audit(pairs, api) {
  const report = { required: 0, missing: [], dups: [], order: [], borderline: [] };
  for (const [a, b] of pairs) {
    for (const [rx, tx] of [[a, b], [b, a]]) {
      // Exactly once, in order, per sender (the peer's whispers, the API).
      for (const from of [tx.name, 'api']) {
        const seen = new Set();
        const lastOn = new Map(); // receiver socket -> highest n it got
        let last = 0;
        for (const g of rx.got.filter((x) => x.from === from)) {
          if (seen.has(g.n)) report.dups.push(`${rx.name} got ${from}#${g.n} twice`);
          else if (g.n < last) report.order.push(`${rx.name} got ${from}#${g.n} after #${last}`);
          seen.add(g.n);
          last = Math.max(last, g.n);
          lastOn.set(g.sock, Math.max(lastOn.get(g.sock) ?? 0, g.n));
        }
        const required = [];
        if (from === 'api') {
          for (const e of api.events) {
            const i = rx.intervalAt(e.R);
            if (!i) continue;
            if (i.E > e.A + SLACK || (lastOn.get(i.sock) ?? 0) > e.n) {
              required.push(e.n);
              if (!seen.has(e.n)) {
                const next = rx.got.find((g) => g.from === from && g.n > e.n);
                report.missing.push(`${rx.name} missed api#${e.n} (answered in ${Math.round(e.A - e.R)} ms; receiver on ${i.sock} subscribed ` +
                  `${Math.round(e.R - i.S)} ms before the call, closed ${Math.round(i.E - e.A)} ms after the answer; ` +
                  `next got #${next?.n} on ${next?.sock} ${next ? Math.round(next.t - e.A) : '-'} ms after)`);
              }
            }
            else if (!seen.has(e.n)) report.borderline.push(Math.round(i.E - e.A));
          }
        } else {
          const sockOf = new Map(tx.sent.map((x) => [x.n, x.sock]));
          for (const s of tx.sent) {
            const si = tx.intervalAt(s.t);
            const ri = rx.intervalAt(s.t);
            if (!si || !ri || si.sock !== s.sock) continue;
            const later = rx.got.some((g) => g.from === from && g.sock === ri.sock && g.n > s.n && sockOf.get(g.n) === s.sock);
            if ((si.E > s.t + SLACK && ri.E > s.t + SLACK) || later) {
              required.push(s.n);
              if (!seen.has(s.n)) {
                const next = rx.got.find((g) => g.from === from && g.n > s.n);
                report.missing.push(`${rx.name} missed ${from}#${s.n} (sent on ${s.sock} ${Math.round(si.E - s.t)} ms before its close, ` +
                  `receiver on ${ri.sock} subscribed ${Math.round(s.t - ri.S)} ms before, closed ${Math.round(ri.E - s.t)} ms after; ` +
                  `next got #${next?.n} on ${next?.sock} ${next ? Math.round(next.t - s.t) : '-'} ms after)`);
              }
            }
            else if (!seen.has(s.n)) report.borderline.push(si.E <= ri.E ? Math.round(si.E - s.t) : -Math.round(ri.E - s.t));
          }
        }
        report.required += required.length;
      }
    }
  }
  return report;
}

/**
 * Runs the pairs (peer i of pair k on serverFor(k, i)) through RESTARTS
 * restarts made by restart(r), then audits; each peer must have moved
 * minMoves times.
 */
async function scenario(t, servers, serverFor, restart, minMoves = RESTARTS) {
  const app = servers[0].app(0);
  const pairs = [];
  for (let k = 0; k < PAIRS; k++) {
    const channel = `private-pair-${k}`;
    pairs.push([0, 1].map((i) => new Peer(serverFor(k, i), app, `p${k}${'ab'[i]}`, channel)));
  }
  const peers = pairs.flat();
  await waitFor(() => peers.every((p) => p.subscribed()), { timeout: 15000, message: 'every peer subscribed' });
  const sdk = serverSdk(servers[0], app);
  const api = apiStream(sdk, pairs.map(([a]) => a.channel));
  const ticker = setInterval(() => { for (const p of peers) p.tick(); }, TICK);
  try {
    await sleep(500);
    for (let r = 0; r < RESTARTS; r++) {
      await restart(r);
      await waitFor(() => peers.every((p) => p.subscribed()), { timeout: 15000, message: `every peer subscribed again after restart ${r + 1}` });
      await sleep(300);
    }
  } finally {
    clearInterval(ticker);
    await api.stop();
  }
  await sleep(500); // what is in flight arrives
  const rep = audit(pairs, api);
  const moves = peers.map((p) => p.intervals.length - 1);
  t.diagnostic(`${peers.reduce((s, p) => s + p.sent.length, 0)} whispers, ${api.events.length} API triggers; ` +
    `${rep.required} deliveries required, ${rep.borderline.length} sent within ${SLACK} ms of a close not delivered (ms before the close, negative: the receiver's: ${rep.borderline.sort((x, y) => Math.abs(y) - Math.abs(x)).slice(0, 12).join(' ')}...); reconnects per peer: ${moves.join(' ')}`);
  for (const p of peers) p.disconnect();
  assert.deepEqual(api.failures, [], 'failed API calls');
  assert.deepEqual(peers.flatMap((p) => p.errors), [], 'pusher-js errors');
  assert.ok(moves.every((m) => m >= minMoves), `every peer moved at each restart of its server (${moves.join(' ')})`);
  assert.deepEqual(rep.dups.slice(0, 10), [], `${rep.dups.length} duplicated`);
  assert.deepEqual(rep.order.slice(0, 10), [], `${rep.order.length} out of order`);
  assert.deepEqual(rep.missing.slice(0, 10), [], `${rep.missing.length} missing of ${rep.required}`);
}

/** SIGHUP to server, then its generation `gen` is gone. */
async function restartOnce(server, gen) {
  server.proc.kill('SIGHUP');
  await server.waitForOutput(new RegExp(`Generation ${gen} gone after`), DRAIN * 2 + 20000);
}

const WORKERS = Number(process.env.REVERB_E2E_WORKERS ?? 2);

test('one server, restarts: whispers and API events reach every subscribed peer exactly once, in order', { timeout: 120000 }, async (t) => {
  const server = await startServer({ port: await port(), workers: WORKERS, drainWindow: `${DRAIN}ms` });
  await scenario(t, [server], () => server, (r) => restartOnce(server, r + 1));
  await server.stop();
});

test('two nodes on Redis, restarts of each and of both: whispers and API events across nodes exactly once, in order', { skip: haveRedis ? false : 'no redis-server', timeout: 180000 }, async (t) => {
  const redisPort = await port();
  const redis = await startRedis({ port: redisPort });
  t.after(() => redis.stop());
  const project = await createProject({
    apps: defaultApps(),
    env: {
      REVERB_SCALING_ENABLED: 'true',
      REVERB_SCALING_CHANNEL: `reverb-e2e-restart-${process.pid}`,
      REDIS_HOST: '127.0.0.1',
      REDIS_PORT: String(redis.port),
      REDIS_PASSWORD: 'null',
    },
  });
  t.after(() => project.cleanup());
  const n1 = await startServer({ project, port: await port(), workers: WORKERS, drainWindow: `${DRAIN}ms` });
  const n2 = await startServer({ project, port: await port(), workers: WORKERS, drainWindow: `${DRAIN}ms` });
  await n1.waitForOutput(/Redis connection established/, 10000);
  await n2.waitForOutput(/Redis connection established/, 10000);
  const gens = [1, 1];
  const nodes = [n1, n2];
  await scenario(t, nodes, (k, i) => nodes[(k + i) % 2], async (r) => {
    // Node 1, node 2, then both at once.
    const which = r % 3 === 2 ? [0, 1] : [r % 3];
    await Promise.all(which.map((i) => restartOnce(nodes[i], gens[i]++)));
  }, Math.min(...[0, 1].map((i) => [...Array(RESTARTS).keys()].filter((r) => r % 3 === 2 || r % 3 === i).length)));
  await n1.stop();
  await n2.stop();
});
