// At the open-files limit: the real binary started under `ulimit -n 256` with two workers and
// --max-workers 2, so the pool cannot grow (capacity.test.mjs covers the pool growing).
// More WebSockets are opened than fit; the server says so in its log (with the limit and the
// fix), counts the refusals in /metrics, keeps answering the Laravel app's HTTP API from the
// descriptors it holds in reserve, and gives a worker's overflow to the other worker instead
// of losing it. One worker's limit is lowered further (prlimit) so its room runs out first.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';

import { APP_A, REVERB_BIN, api, createProject, freePort, skipOnPortable, waitFor } from './lib/harness.mjs';
import { get, run, startLimited, stopLimited } from './lib/limited.mjs';

const LIMIT = 256;
const running = new Set();

after(async () => {
  for (const s of running) await stop(s);
});

/** reverb start under `ulimit -n LIMIT` (soft and hard), with /metrics on. */
async function start({ workers = 2 } = {}) {
  const project = await createProject({ apps: [{ ...APP_A }] });
  const port = await freePort();
  const metricsPort = await freePort();
  const args = ['start', '--dir', project.dir, '--host', '127.0.0.1', '--port', String(port), '--workers', String(workers),
    ...(workers > 0 ? ['--max-workers', String(workers)] : []), '--drain-window', '200ms', '--metrics', `127.0.0.1:${metricsPort}`];
  return startLimited({ project, port, metricsPort, args, limit: LIMIT, running, workersReady: workers > 0 });
}

const stop = (server) => stopLimited(server, running);

/**
 * Opens one WebSocket: resolves {ok: true, ws} once connection_established arrives, or
 * {ok: false, status} when the upgrade was refused or the socket closed first.
 */
function openSocket(server) {
  return new Promise((resolve) => {
    const ws = new WebSocket(server.wsUrl(APP_A.key), { perMessageDeflate: false, handshakeTimeout: 15000 });
    let done = false;
    const finish = (r) => { if (!done) { done = true; resolve(r); } };
    ws.on('message', (d) => {
      if (JSON.parse(d.toString()).event === 'pusher:connection_established') finish({ ok: true, ws });
    });
    ws.on('unexpected-response', (req, res) => { finish({ ok: false, status: res.statusCode }); res.resume(); ws.terminate(); });
    ws.on('error', (err) => finish({ ok: false, error: err.message }));
    ws.on('close', () => finish({ ok: false, closed: true }));
  });
}

async function openMany(server, n) {
  const results = [];
  // In waves, so the client's own accept queue is not the limit.
  for (let i = 0; i < n; i += 25) {
    results.push(...await Promise.all(Array.from({ length: Math.min(25, n - i) }, () => openSocket(server))));
  }
  return results;
}

async function status(server) {
  const r = await run(REVERB_BIN, ['status', '--dir', server.project.dir, '--json', '--interval=0']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

async function metric(server, name) {
  const r = await get(server.metricsPort, '/metrics');
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(r.text);
  return m ? Number(m[1]) : undefined;
}

test('at the open-files limit: overflow to the other worker, 503 with a log line and a counter, the API keeps answering', { skip: skipOnPortable('one process holds every socket: there is no other worker to overflow to (the --workers 0 case below covers it)'), timeout: 180000 }, async () => {
  const server = await start();
  const open = [];
  try {
    const st0 = await status(server);
    assert.equal(st0.workers.length, 2);
    const [w0, w1] = st0.workers;

    // Worker 0 gets much less room than worker 1: its overflow must go to worker 1.
    const small = 96;
    const pr = await run('prlimit', ['--pid', String(w0.pid), `--nofile=${small}:${small}`]);
    assert.equal(pr.code, 0, pr.stderr);

    const first = await openMany(server, 150);
    open.push(...first.filter((r) => r.ok).map((r) => r.ws));
    const refusedFirst = first.filter((r) => !r.ok);
    assert.equal(refusedFirst.length, 0, `connections lost although worker 1 had room: ${JSON.stringify(refusedFirst.slice(0, 3))}`);
    let st = await status(server);
    const byNode = Object.fromEntries(st.workers.map((w) => [w.node_id, w.connections]));
    assert.ok(byNode[w0.node_id] < small, `worker 0 holds ${byNode[w0.node_id]} connections with a limit of ${small}`);
    assert.ok(byNode[w1.node_id] > 150 / 2, `worker 1 took the overflow: ${JSON.stringify(byNode)}`);
    assert.equal(byNode[w0.node_id] + byNode[w1.node_id], 150);

    // Past what both workers hold: refused with 503, said once in the log with the fix,
    // counted in /metrics; the app's API calls keep working meanwhile.
    const second = await openMany(server, 250);
    open.push(...second.filter((r) => r.ok).map((r) => r.ws));
    const refused = second.filter((r) => !r.ok);
    assert.ok(refused.length > 0, 'nothing refused past the limit');
    await waitFor(() => /Worker 0 \(\S+\) is at its open-files limit \(96\): new connections go to the other workers/.test(server.output()),
      { timeout: 10000, message: 'log line about worker 0' });
    assert.ok(refused.every((r) => r.status === 503 || r.closed || r.error), JSON.stringify(refused.slice(0, 3)));
    assert.ok(refused.some((r) => r.status === 503), `no 503 among ${JSON.stringify(refused.slice(0, 3))}`);
    try {
      await waitFor(() => /Every worker is at its open-files limit \(\d+\) and the pool cannot grow: new WebSocket connections are refused with 503 while the HTTP API keeps answering; raise --max-workers \(2 now\), or the open-files limit \(256 per process: systemd LimitNOFILE=/.test(server.output()),
        { timeout: 10000, message: 'log line about every worker' });
    } catch (e) {
      e.message += `; the server said:\n${server.output().slice(-4000)}`;
      throw e;
    }
    const counted = await metric(server, 'reverb_open_files_refused_total');
    assert.ok(counted >= refused.length, `reverb_open_files_refused_total ${counted}, refused ${refused.length}`);

    for (let i = 0; i < 10; i++) {
      const ev = await api(server, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: 'at-limit', channels: ['c'], data: '{}' } });
      assert.equal(ev.status, 200, `POST /events at the limit: ${ev.status} ${ev.text}`);
    }
    const conns = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/connections`);
    assert.equal(conns.status, 200, conns.text);
    assert.equal(conns.json.connections, open.length);
    st = await status(server);
    assert.equal(st.open_files_refused, counted >= st.open_files_refused ? st.open_files_refused : counted);

    // Connections close: once the workers counted them (within a second), new WebSockets
    // are accepted again, and the log says so.
    for (const ws of open.splice(0, 120)) ws.close();
    await waitFor(async () => {
      const [r] = await openMany(server, 1);
      if (r.ok) open.push(r.ws);
      return r.ok;
    }, { timeout: 15000, message: 'a WebSocket accepted again' });
    await waitFor(() => /room again under (its|their) open-files limit/.test(server.output()), { timeout: 5000, message: 'room again in the log' });
    const again = await openMany(server, 20);
    open.push(...again.filter((r) => r.ok).map((r) => r.ws));
    assert.equal(again.filter((r) => !r.ok).length, 0, 'refused with room again');
  } finally {
    for (const ws of open) ws.terminate();
    await stop(server);
  }
});

test('--workers 0 at the open-files limit: 503 past it, the API answers, room again later', { timeout: 120000 }, async () => {
  const server = await start({ workers: 0 });
  const open = [];
  try {
    const results = await openMany(server, 300);
    open.push(...results.filter((r) => r.ok).map((r) => r.ws));
    const refused = results.filter((r) => !r.ok);
    assert.ok(open.length > 100 && refused.length > 0, `${open.length} open, ${refused.length} refused`);
    assert.ok(refused.some((r) => r.status === 503), JSON.stringify(refused.slice(0, 3)));
    await waitFor(() => /At the open-files limit \(256\): new WebSocket connections are refused with 503 while the HTTP API keeps answering; each process may open 256 files/.test(server.output()),
      { timeout: 10000, message: 'log line' });
    assert.ok(await metric(server, 'reverb_open_files_refused_total') > 0);
    for (let i = 0; i < 10; i++) {
      const ev = await api(server, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: 'at-limit', channels: ['c'], data: '{}' } });
      assert.equal(ev.status, 200, `POST /events at the limit: ${ev.status} ${ev.text}`);
    }
    for (const ws of open.splice(0, 100)) ws.close();
    await waitFor(() => /Room again under the open-files limit \(256\)/.test(server.output()), { timeout: 15000, message: 'room again' });
    const again = await openMany(server, 20);
    open.push(...again.filter((r) => r.ok).map((r) => r.ws));
    assert.equal(again.filter((r) => !r.ok).length, 0);
  } finally {
    for (const ws of open) ws.terminate();
    await stop(server);
  }
});
