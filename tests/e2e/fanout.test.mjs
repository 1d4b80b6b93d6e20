// Fan-out correctness under a little load: every subscriber gets
// every event in order, and a consumer that stops reading is closed with a 4100-range code
// instead of stalling the others. Kept small: the machine is shared.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { APP_A, RawClient, api, defaultApps, startServer } from './lib/harness.mjs';
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
  const deadline = Date.now() + 20000;
  // Keep publishing until the server gives up on the stuck socket.
  let ended = false;
  stuck.ws._socket.once('end', () => { ended = true; });
  stuck.ws._socket.once('close', () => { ended = true; });
  while (!ended && Date.now() < deadline && sent < 400) {
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
