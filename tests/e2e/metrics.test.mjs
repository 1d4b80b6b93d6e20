// Monitoring: the Prometheus endpoint and `reverb status` during a fan-out over two
// workers, and the /connections endpoint Pulse's ReverbConnections recorder calls, answered
// cluster-wide by every worker.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { APP_A, REVERB_BIN, RawClient, api, defaultApps, freePort, startServer, waitFor } from './lib/harness.mjs';

const EV = 'App\\Events\\Tick';
const SUBSCRIBERS = 20;
const EVENTS = 5;

let server;
let metricsPort;

before(async () => {
  metricsPort = await freePort();
  server = await startServer({ apps: defaultApps(), workers: 2, args: ['--metrics', `127.0.0.1:${metricsPort}`] });
});

after(async () => {
  await server?.stop();
});

function scrape() {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: metricsPort, path: '/metrics', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body }));
    }).on('error', reject);
  });
}

/** The value of one sample line, e.g. metric(body, 'reverb_connections{app="123456"}'). */
function metric(body, series) {
  const line = body.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function status(dir, ...args) {
  return new Promise((resolve) => {
    execFile(REVERB_BIN, ['status', '--dir', dir, ...args], { timeout: 15000 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, stdout, stderr });
    });
  });
}

test('/metrics and reverb status show the fan-out, summed over the workers', async () => {
  const socks = await Promise.all(Array.from({ length: SUBSCRIBERS }, () => RawClient.connect(server, APP_A.key)));
  await Promise.all(socks.map((s) => s.subscribeOk('metrics-fanout')));
  for (let i = 0; i < EVENTS; i++) {
    const r = await api(server, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: EV, data: JSON.stringify({ i }), channel: 'metrics-fanout' } });
    assert.equal(r.status, 200);
  }
  await Promise.all(socks.map(async (s) => { for (let i = 0; i < EVENTS; i++) await s.next(10000); }));

  const a = `app="${APP_A.id}"`;
  // Each socket got connection_established, subscription_succeeded and the events.
  const sent = SUBSCRIBERS * (2 + EVENTS);
  let body;
  await waitFor(async () => {
    ({ body } = await scrape());
    return metric(body, `reverb_messages_sent_total{${a}}`) === sent;
  }, { timeout: 5000, message: 'reverb_messages_sent_total' }).catch(() => {});
  const r = await scrape();
  assert.equal(r.status, 200);
  assert.match(r.type, /^text\/plain; version=0\.0\.4/);
  body = r.body;
  assert.equal(metric(body, `reverb_connections{${a}}`), SUBSCRIBERS, body);
  assert.equal(metric(body, `reverb_subscriptions{${a}}`), SUBSCRIBERS);
  assert.ok(metric(body, `reverb_channels{${a}}`) >= 1);
  assert.equal(metric(body, `reverb_broadcast_deliveries_total{${a}}`), SUBSCRIBERS * EVENTS);
  assert.equal(metric(body, `reverb_messages_sent_total{${a}}`), sent);
  assert.equal(metric(body, `reverb_messages_received_total{${a}}`), SUBSCRIBERS);
  assert.equal(metric(body, `reverb_messages_handled_total{${a}}`), SUBSCRIBERS);
  assert.equal(metric(body, `reverb_connections_opened_total{${a}}`), SUBSCRIBERS);
  assert.ok(metric(body, `reverb_sent_bytes_total{${a}}`) > 0);
  assert.equal(metric(body, 'reverb_workers{state="serving"}'), 2);
  assert.equal(metric(body, 'reverb_generation'), 1);
  assert.equal(metric(body, 'reverb_restarts_total'), 0);
  assert.equal(metric(body, `reverb_connections{app="${defaultApps()[1].id}"}`), 0, 'idle apps are listed with zeros');
  // Bus state: each worker hears the other one.
  const peers = body.split('\n').filter((l) => l.startsWith('reverb_cluster_peer_nodes{'));
  assert.equal(peers.length, 2, body);
  for (const l of peers) assert.match(l, / 1$/);
  assert.equal(metric(body, 'reverb_bus_publish_errors_total'), 0);

  // reverb status asks the supervisor through storage/reverb.sock and agrees.
  const st = await status(server.project.dir, '--json', '--interval', '0');
  assert.equal(st.code, 0, st.stderr);
  const js = JSON.parse(st.stdout);
  assert.equal(js.mode, 'supervisor');
  assert.equal(js.generation, 1);
  assert.equal(js.workers.filter((w) => w.state === 'serving' && w.up).length, 2);
  const app = js.apps.find((x) => x.id === APP_A.id);
  assert.equal(app.connections, SUBSCRIBERS);
  assert.equal(app.messages_out, sent);
  assert.equal(app.broadcast_deliveries, SUBSCRIBERS * EVENTS);
  assert.equal(js.workers.reduce((n, w) => n + w.connections, 0), SUBSCRIBERS);

  const human = await status(server.project.dir, '--interval', '200ms');
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /Reverb is running \(supervisor, pid \d+\)/);
  assert.match(human.stdout, new RegExp(`^${APP_A.id}\\s+${SUBSCRIBERS}\\s+`, 'm'));

  await Promise.all(socks.map((s) => { s.close(); return s.waitClosed(); }));
});

test('a restart (SIGHUP) moves the generation; counters keep counting across it', async () => {
  const before = (await scrape()).body;
  const sentBefore = metric(before, `reverb_messages_sent_total{app="${APP_A.id}"}`);
  server.proc.kill('SIGHUP');
  await server.waitForOutput(/Generation 2 ready/, 20000);
  await waitFor(async () => metric((await scrape()).body, 'reverb_workers{state="draining"}') === 0, { timeout: 10000, message: 'old generation gone' });
  const sock = await RawClient.connect(server, APP_A.key);
  const after = (await scrape()).body;
  assert.equal(metric(after, 'reverb_generation'), 2);
  assert.equal(metric(after, 'reverb_restarts_total'), 1);
  assert.equal(metric(after, 'reverb_workers{state="serving"}'), 2);
  assert.equal(metric(after, `reverb_messages_sent_total{app="${APP_A.id}"}`), sentBefore + 1, 'old workers\' counts kept, plus one connection_established');
  sock.close();
  await sock.waitClosed();
});

test('GET /apps/{id}/connections (Pulse connections card) counts every worker from every worker', async () => {
  const socks = await Promise.all(Array.from({ length: 6 }, () => RawClient.connect(server, APP_A.key)));
  // Fresh connections: the kernel spreads them over both workers.
  for (let i = 0; i < 8; i++) {
    const r = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/connections`, { headers: { Connection: 'close' } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { connections: 6 });
  }
  await Promise.all(socks.map((s) => { s.close(); return s.waitClosed(); }));
});

test('reverb status without a running server says so and exits 1', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reverb-status-'));
  try {
    fs.mkdirSync(path.join(dir, 'storage'));
    fs.writeFileSync(path.join(dir, 'artisan'), '');
    const st = await status(dir);
    assert.equal(st.code, 1);
    assert.match(st.stderr, /No Reverb server is running/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('--workers 0 serves status and REVERB_METRICS_ADDR from the single process', async () => {
  const port = await freePort();
  const single = await startServer({ apps: defaultApps(), workers: 0, processEnv: { REVERB_METRICS_ADDR: `127.0.0.1:${port}` } });
  try {
    const socks = await Promise.all(Array.from({ length: 3 }, () => RawClient.connect(single, APP_A.key)));
    const body = await new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
        let b = '';
        res.on('data', (c) => { b += c; });
        res.on('end', () => resolve(b));
      }).on('error', reject);
    });
    assert.equal(metric(body, `reverb_connections{app="${APP_A.id}"}`), 3, body);
    assert.equal(metric(body, 'reverb_workers{state="serving"}'), 1);
    const st = await status(single.project.dir, '--json', '--interval', '0');
    assert.equal(st.code, 0, st.stderr);
    const js = JSON.parse(st.stdout);
    assert.equal(js.mode, 'single');
    assert.equal(js.apps.find((x) => x.id === APP_A.id).connections, 3);
    await Promise.all(socks.map((s) => { s.close(); return s.waitClosed(); }));
  } finally {
    await single.stop();
  }
});
