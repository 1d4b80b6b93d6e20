// Fan-out correctness under a little load: every subscriber gets
// every event in order, and a consumer that stops reading is closed with a 4100-range code
// instead of stalling the others, while events as large as max_request_size allows are
// delivered as Reverb delivers them. Kept small: the machine is shared.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { APP_A, RawClient, api, defaultApps, pusherClient, startServer, waitConnected } from './lib/harness.mjs';
import { apiEvent } from './lib/frames.mjs';

let server;

before(async () => {
  server = await startServer({ apps: defaultApps(), maxRequestSize: 300000 });
});

after(async () => {
  await server?.stop();
});

const EV = 'App\\Events\\Tick';

test('200 subscribers each receive 20 events in order', async () => {
  const socks = await Promise.all(Array.from({ length: 200 }, () => RawClient.connect(server, APP_A.key)));
  await Promise.all(socks.map((s) => s.subscribeOk('fanout')));
  for (let i = 0; i < 20; i++) {
    const r = await api(server, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: EV, data: JSON.stringify({ i }), channel: 'fanout' } });
    assert.equal(r.status, 200);
  }
  await Promise.all(socks.map(async (s) => {
    for (let i = 0; i < 20; i++) await s.expectFrame(apiEvent('fanout', EV, JSON.stringify({ i })), 10000);
  }));
  await Promise.all(socks.map((s) => { s.close(); return s.waitClosed(); }));
});

test('a consumer that stops reading is closed with a 4100-range code; others keep receiving', async () => {
  const healthy = await RawClient.connect(server, APP_A.key);
  const stuck = await RawClient.connect(server, APP_A.key);
  await healthy.subscribeOk('slow');
  await stuck.subscribeOk('slow');
  stuck.ws._socket.pause(); // stop reading: the kernel buffers fill, then the server's queue
  const data = JSON.stringify({ pad: 'z'.repeat(200000) });
  let sent = 0;
  const deadline = performance.now() + 20000;
  // Keep publishing until the server gives up on the stuck socket.
  let ended = false;
  stuck.ws._socket.once('end', () => { ended = true; });
  stuck.ws._socket.once('close', () => { ended = true; });
  while (!ended && performance.now() < deadline && sent < 400) {
    const r = await api(server, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: EV, data, channel: 'slow' } });
    assert.equal(r.status, 200);
    sent++;
    const f = JSON.parse(await healthy.next(5000));
    assert.equal(f.data.length, data.length);
    if (sent % 20 === 0) {
      // The paused socket cannot see its close before it reads again: ask the server.
      const c = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels/slow`, { query: { info: 'subscription_count' } });
      if (c.json?.subscription_count === 1) break;
    }
  }
  const c = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels/slow`, { query: { info: 'subscription_count' } });
  assert.deepEqual(c.json, { occupied: true, subscription_count: 1 }, `after ${sent} events of ${data.length} bytes the stuck socket is still subscribed`);
  stuck.ws._socket.resume();
  const { code } = await stuck.waitClosed(10000);
  assert.ok(code >= 4100 && code <= 4199, `close code ${code}`);
  healthy.close();
  await healthy.waitClosed();
});

test('events larger than 4 MiB (max_request_size raised) reach every subscriber, back to back', async () => {
  // Laravel's broadcaster sends whatever broadcastWith() returns; Reverb has no outbound limit,
  // so an app that raised REVERB_MAX_REQUEST_SIZE gets its large events delivered.
  const big = await startServer({ apps: defaultApps(), maxRequestSize: 12000000 });
  const p = pusherClient(big, APP_A);
  try {
    const raw = await RawClient.connect(big, APP_A.key);
    await raw.subscribeOk('large');
    await waitConnected(p);
    const ch = p.subscribe('large');
    await new Promise((resolve) => ch.bind('pusher:subscription_succeeded', resolve));
    const got = [];
    const closes = [];
    ch.bind('Large', (d) => got.push(d));
    p.connection.bind('error', (e) => closes.push(e?.error?.data ?? e));
    const sizes = [5 << 20, 5 << 20, 6 << 20];
    for (const [i, n] of sizes.entries()) {
      const r = await api(big, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: 'Large', data: `${i}:${'z'.repeat(n)}`, channel: 'large' } });
      assert.equal(r.status, 200);
    }
    for (const [i, n] of sizes.entries()) {
      const f = JSON.parse(await raw.next(15000));
      assert.equal(f.data.length, n + 2, `raw frame ${i}: ${f.event} ${String(f.data).slice(0, 80)}`);
      assert.ok(f.data.startsWith(`${i}:`));
    }
    const deadline = performance.now() + 15000;
    while (got.length < sizes.length && closes.length === 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(closes, []);
    assert.deepEqual(got.map((d) => d.length), sizes.map((n) => n + 2));
    raw.close();
    await raw.waitClosed();
  } finally {
    p.disconnect();
    await big.stop();
  }
});
