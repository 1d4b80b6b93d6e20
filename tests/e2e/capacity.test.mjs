// No wall at the open-files limit: the real binary started with no flags at all under
// `ulimit -n 256` (each process may open 256 files, so one worker holds under 200 sockets), and
// 1,000 WebSockets opened. The supervisor grows the worker pool by itself: every connection is
// served, the Laravel app's HTTP API answers throughout, presence and the API's counts are exact
// across the workers that were added, terminate reaches a socket wherever it is, `reverb status`
// and /metrics list every worker, and `reverb restart` moves everyone to a new generation sized to
// the load. (The benchmark's `capacity` scenario does the same at 200,000 connections.)
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';

import { APP_A, PORTABLE, REVERB_BIN, api, channelAuth, createProject, freePort, waitFor } from './lib/harness.mjs';
import { get, run, startLimited, stopLimited } from './lib/limited.mjs';

const LIMIT = 256;
const SOCKETS = 1000;
const MEMBERS = 100; // of the SOCKETS, these join the presence channel (one user each)
const PRESENCE = 'presence-capacity';
const running = new Set();

after(async () => {
  for (const s of running) await stop(s);
});

/**
 * `reverb start` with no arguments, in the project folder, under `ulimit -n LIMIT`: host, port
 * and the metrics address come from .env, as a deployment would have them.
 */
async function startBare() {
  const port = await freePort();
  const metricsPort = await freePort();
  const project = await createProject({
    apps: [{ ...APP_A }],
    env: { REVERB_SERVER_HOST: '127.0.0.1', REVERB_SERVER_PORT: port, REVERB_METRICS_ADDR: `127.0.0.1:${metricsPort}` },
  });
  return startLimited({ project, port, metricsPort, args: ['start'], limit: LIMIT, running, readyTimeout: 30000 });
}

const stop = (server) => stopLimited(server, running, 20000);

/**
 * One subscribed client that reconnects and subscribes again at once after a 4200-range close,
 * as pusher-js does when a restart drains its worker. `user` joins the presence channel.
 */
class Client {
  constructor(server, channel, user) {
    Object.assign(this, { server, channel, user, subscribed: false, reconnects: 0, refused: [], closedWith: null, stopped: false });
  }

  open() {
    return new Promise((resolve) => {
      const ws = new WebSocket(this.server.wsUrl(APP_A.key), { perMessageDeflate: false, handshakeTimeout: 20000 });
      this.ws = ws;
      this.subscribed = false;
      let done = false;
      const finish = (ok) => { if (!done) { done = true; resolve(ok); } };
      ws.on('message', (d) => {
        const m = JSON.parse(d.toString());
        if (m.event === 'pusher:connection_established') {
          this.socketId = JSON.parse(m.data).socket_id;
          const data = { channel: this.channel };
          if (this.user) {
            const channelData = JSON.stringify({ user_id: this.user, user_info: { name: this.user } });
            Object.assign(data, channelAuth(APP_A, this.socketId, this.channel, channelData));
          }
          ws.send(JSON.stringify({ event: 'pusher:subscribe', data }));
        } else if (m.event === 'pusher_internal:subscription_succeeded') {
          this.subscribed = true;
          this.succeeded = m.data ? JSON.parse(m.data) : {};
          finish(true);
        }
      });
      ws.on('unexpected-response', (req, res) => { this.refused.push(res.statusCode); res.resume(); ws.terminate(); finish(false); });
      ws.on('error', (err) => { this.refused.push(err.message); finish(false); });
      ws.on('close', (code) => {
        this.subscribed = false;
        finish(false);
        if (this.stopped || ws !== this.ws) return;
        if (code >= 4200 && code < 4300) {
          this.reconnects++;
          this.open();
        } else {
          this.closedWith = code;
        }
      });
    });
  }

  close() {
    this.stopped = true;
    this.ws?.terminate();
  }
}

async function status(server) {
  const r = await run(REVERB_BIN, ['status', '--json', '--interval=0'], { cwd: server.project.dir, timeout: 30000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

async function users(server) {
  const r = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels/${PRESENCE}/users`);
  assert.equal(r.status, 200, r.text);
  return r.json.users.map((u) => u.id).sort();
}

async function connections(server) {
  const r = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/connections`);
  assert.equal(r.status, 200, r.text);
  return r.json.connections;
}

/** The app's API calls every 50 ms until stopped; every answer must be 200. */
function apiThroughout(server) {
  const failures = [];
  let calls = 0;
  let stopped = false;
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      try {
        const r = i % 2
          ? await api(server, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: 'tick', channels: ['capacity'], data: '{}' } })
          : await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels`);
        calls++;
        if (r.status !== 200) failures.push(`${r.status} ${r.text}`);
      } catch (err) {
        failures.push(err.message);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return { failures, calls: () => calls, stop: async () => { stopped = true; await loop; } };
}

test('no flags under ulimit -n 256: the pool grows to 1,000 connections, exact across its workers, and a restart moves everyone',
  { timeout: 300000, skip: PORTABLE ? 'portable build: one process, its open-files limit is the wall (README)' : false }, async () => {
    const server = await startBare();
    const clients = [];
    const pinger = apiThroughout(server);
    try {
      const st0 = await status(server);
      const startWorkers = st0.workers.length;

      // 1,000 sockets in waves of 25; one in ten is a presence member.
      for (let i = 0; i < SOCKETS; i += 25) {
        const wave = [];
        for (let j = i; j < Math.min(i + 25, SOCKETS); j++) {
          const member = j % (SOCKETS / MEMBERS) === 0;
          const c = new Client(server, member ? PRESENCE : 'capacity', member ? `u${j}` : null);
          clients.push(c);
          wave.push(c.open());
        }
        const ok = await Promise.all(wave);
        const refused = clients.filter((c) => c.refused.length);
        assert.ok(ok.every(Boolean), `refused after ${i} sockets: ${JSON.stringify(refused.slice(0, 3).map((c) => c.refused))}\n${server.output()}`);
      }
      assert.match(server.output(), /Open files limit is 256 per process .* the workers grow in number/);
      assert.match(server.output(), /adding worker \d+ to generation 1/);
      assert.doesNotMatch(server.output(), /answered 503|refused with 503/);

      // Every worker in `reverb status` and /metrics, every one on the bus with all the others,
      // once the pool has settled: the last load report of a wave can still add a worker, which
      // the others hear on the bus while it is starting. (If it never settles, the assertions
      // below say how.)
      let st;
      let grown;
      await waitFor(async () => {
        st = await status(server);
        grown = st.workers.filter((w) => w.generation === 1 && w.state === 'serving');
        return st.workers.every((w) => w.generation !== 1 || w.state === 'serving') &&
          grown.every((w) => w.peer_nodes === grown.length - 1);
      }, { timeout: 15000, message: 'the pool to settle' }).catch(() => {});
      assert.ok(grown.length > startWorkers && grown.length >= Math.ceil(SOCKETS / 200),
        `${grown.length} workers for ${SOCKETS} sockets at ${LIMIT} files each (started with ${startWorkers})`);
      assert.equal(grown.reduce((n, w) => n + w.connections, 0), SOCKETS);
      for (const w of grown) {
        assert.ok(w.connections < LIMIT, `${w.node_id} holds ${w.connections} sockets with ${LIMIT} files`);
        assert.equal(w.peer_nodes, grown.length - 1, `${w.node_id} hears ${w.peer_nodes} other workers of ${grown.length}`);
      }
      const metrics = (await get(server.metricsPort, '/metrics')).text;
      for (const w of grown) assert.match(metrics, new RegExp(`reverb_worker_up\\{generation="1",node="${w.node_id}"\\} 1`));
      assert.match(metrics, new RegExp(`reverb_workers\\{state="serving"\\} ${grown.length}\\b`));

      // The API's counts and presence are exact across the workers.
      assert.equal(await connections(server), SOCKETS);
      const members = clients.filter((c) => c.user).map((c) => c.user).sort();
      assert.deepEqual(await users(server), members);
      const ch = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels/${PRESENCE}`, { query: { info: 'user_count,subscription_count' } });
      assert.equal(ch.json.user_count, MEMBERS);
      // A member joining now (on whichever worker has room, likely the newest) sees them all.
      const late = new Client(server, PRESENCE, 'late');
      clients.push(late);
      assert.ok(await late.open(), JSON.stringify(late.refused));
      assert.equal(late.succeeded.presence.count, MEMBERS + 1);
      assert.deepEqual(late.succeeded.presence.ids.slice().sort(), [...members, 'late'].sort());

      // terminate reaches a user's socket wherever it is.
      const victim = clients.find((c) => c.user === `u${SOCKETS - SOCKETS / MEMBERS}`);
      const t = await api(server, APP_A, 'POST', `/apps/${APP_A.id}/users/${victim.user}/terminate_connections`, { body: {} });
      assert.equal(t.status, 200, t.text);
      await waitFor(() => victim.closedWith !== null, { timeout: 10000, message: 'terminated socket closed' });
      await waitFor(async () => (await users(server)).length === MEMBERS, { timeout: 10000, message: 'terminated user gone' });
      const live = clients.filter((c) => c !== victim);

      // `reverb restart`: a new generation sized to the load; everyone moves to it.
      const r = await run(REVERB_BIN, ['restart'], { cwd: server.project.dir, timeout: 30000 });
      assert.equal(r.code, 0, r.stderr);
      const sized = await waitFor(() => /Starting (\d+) workers for the (\d+) connections the workers hold/.exec(server.output()),
        { timeout: 20000, message: 'restart sized to the load' });
      assert.ok(Number(sized[1]) >= Math.ceil(SOCKETS / 200), sized[0]);
      await waitFor(() => /Generation 1 gone after/.test(server.output()), { timeout: 60000, message: 'generation 1 gone' });
      await waitFor(() => live.every((c) => c.subscribed), { timeout: 30000, message: 'every client subscribed again' });
      assert.ok(live.every((c) => c.reconnects >= 1), 'a client was not moved');
      st = await status(server);
      assert.ok(st.workers.every((w) => w.generation === 2), JSON.stringify(st.workers));
      assert.equal(st.workers.reduce((n, w) => n + w.connections, 0), live.length);
      assert.equal(await connections(server), live.length);
      assert.deepEqual(await users(server), live.filter((c) => c.user).map((c) => c.user).sort());

      await pinger.stop();
      assert.deepEqual(pinger.failures, [], `API calls failed (of ${pinger.calls()})`);
      assert.ok(pinger.calls() > 50, `only ${pinger.calls()} API calls`);
    } finally {
      await pinger.stop();
      for (const c of clients) c.close();
      await stop(server);
    }
  });
