// The decisions of shared/spec/README.md that differ from upstream Reverb (fixed bugs) and the
// quirks kept on purpose, checked on the wire. (Close codes after 4001/4004/4009 are in
// protocol.test.mjs, the 4201 close frame and idle-socket pruning in activity.test.mjs, both
// signature path forms in api.test.mjs.)

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { APP_A, APP_B, RawClient, api, defaultApps, httpGet, rawHttp, startServer, waitFor } from './lib/harness.mjs';
import { ERR, memberAdded, succeeded } from './lib/frames.mjs';

let server;
const clients = [];

before(async () => {
  server = await startServer({ apps: defaultApps() });
});

after(async () => {
  await server?.stop();
});

async function connect(opts) {
  const c = await RawClient.connect(server, APP_A.key, opts);
  clients.push(c);
  return c;
}

async function closeAll() {
  const open = clients.splice(0);
  await Promise.all(open.map(async (c) => {
    if (!c.closeInfo) {
      c.close();
      await c.waitClosed().catch(() => c.terminate());
    }
  }));
}

describe('README decisions', () => {
  test('a presence member without user_info gets null info, never 4200', async () => {
    const a = await connect();
    const b = await connect();
    a.subscribe('presence-noinfo', { channelData: '{"user_id":"5"}' });
    await a.expectFrame(succeeded('presence-noinfo', '{"presence":{"count":1,"ids":["5"],"hash":{"5":null}}}'));
    b.subscribe('presence-noinfo', { channelData: '{"user_id":"6","user_info":{"name":"Six"}}' });
    await b.expectFrame(succeeded('presence-noinfo', '{"presence":{"count":2,"ids":["5","6"],"hash":{"5":null,"6":{"name":"Six"}}}}'));
    await a.expectFrame(memberAdded('presence-noinfo', '{"user_id":"6","user_info":{"name":"Six"}}'));
    await closeAll();
  });

  test('terminate_connections matches a user id on any membership and skips ones without it', async () => {
    const victim = await connect();
    const bystander = await connect();
    await victim.subscribeOk('public-first'); // first channel has no user id (upstream: 500)
    await victim.subscribeOk('presence-term', { channelData: '{"user_id":77,"user_info":{"name":"x"}}' });
    await bystander.subscribeOk('public-first');
    let r = await api(server, APP_A, 'POST', `/apps/${APP_A.id}/users/77/terminate_connections`, { body: {} });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, {});
    assert.equal((await victim.waitClosed()).code, 4009);
    await bystander.expectNoFrame();
    r = await api(server, APP_A, 'POST', `/apps/${APP_A.id}/users/nobody/terminate_connections`, { body: {} });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, {});
    await closeAll();
  });

  test('client-event data is relayed as the client sent it ({} stays {})', async () => {
    const a = await connect();
    const b = await connect();
    await a.subscribeOk('relay');
    await b.subscribeOk('relay');
    const msgs = [
      '{"event":"client-x","channel":"relay","data":{}}',
      '{"event":"client-x","channel":"relay","data":{"empty":{},"list":[],"f":1.0,"url":"a/b","big":12345678901234567890}}',
    ];
    for (const m of msgs) {
      a.send(m);
      await b.expectFrame(m);
    }
    await a.expectNoFrame();
    await closeAll();
  });

  test('a JSON-string data of a whisper is delivered as an object', async () => {
    const a = await connect();
    const b = await connect();
    await a.subscribeOk('relay-2');
    await b.subscribeOk('relay-2');
    a.send(JSON.stringify({ event: 'client-x', channel: 'relay-2', data: '{"id":1}' }));
    const got = JSON.parse(await b.next());
    assert.deepEqual(got, { event: 'client-x', channel: 'relay-2', data: { id: 1 } });
    await closeAll();
  });

  test('a failed handshake (bad Sec-WebSocket-Version) closes the socket without Pusher frames', async () => {
    const r = await rawHttp(server, ['GET /app/reverb-key HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n'], { timeout: 3000, waitClose: true });
    assert.equal(r.status, 426, r.raw.slice(0, 300));
    assert.ok(r.closedByServer, 'the server closes the socket after a failed handshake');
    assert.equal(r.headers['sec-websocket-version'], '13');
    assert.equal(r.headers['x-powered-by'], 'Laravel Reverb');
    assert.ok(!r.raw.includes('pusher:'), r.raw);
  });

  test('an open socket that never subscribed counts against max_connections', async () => {
    await waitFor(async () => (await api(server, APP_B, 'GET', `/apps/${APP_B.id}/connections`)).json?.connections === 0);
    const idle = await RawClient.connect(server, APP_B.key);
    const second = await RawClient.connect(server, APP_B.key, { expectEstablished: false });
    await second.expectFrame(ERR.overQuota);
    assert.equal((await second.waitClosed()).code, 4004);
    idle.close();
    await idle.waitClosed();
  });

  test('app keys match exactly (no PHP loose ==): "1e3" does not find key "1000"', async () => {
    const s = await startServer({ apps: [{ id: '1000', key: '1000', secret: 'numeric-secret' }] });
    try {
      const ok = await RawClient.connect(s, '1000');
      assert.match(ok.socketId, /^\d+\.\d+$/);
      const bad = await RawClient.connect(s, '1e3', { expectEstablished: false });
      await bad.expectFrame(ERR.appMissing);
      const r = await api(s, { id: '1e3', key: '1000', secret: 'numeric-secret' }, 'GET', '/apps/1e3/connections');
      assert.equal(r.status, 404, r.text);
      ok.close();
    } finally {
      await s.stop();
    }
  });

  test('duplicate app keys are a load error naming the key path', async () => {
    const s = await startServer({ apps: [APP_A, { ...APP_A, id: '999' }], expectFailure: true });
    const { code } = await s.exited;
    assert.notEqual(code, 0);
    assert.match(s.output(), /reverb-key|apps\.apps|duplicate/i);
  });

  test('only Upgrade: websocket upgrades; other Upgrade values are plain HTTP', async () => {
    const r = await httpGet(server, '/up', { headers: { Upgrade: 'h2c', Connection: 'Upgrade' } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { health: 'OK' });
  });

  test('a plain GET of the WebSocket route gets an HTTP error and no Pusher frames', async () => {
    // Upstream hands the non-upgraded connection to the WebSocket controller and answers 500;
    // any error status is fine as long as no Pusher frame follows on the socket.
    const r = await rawHttp(server, ['GET /app/reverb-key HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'], { timeout: 3000 });
    assert.ok(r.status >= 400, r.raw.slice(0, 200));
    assert.ok(!r.raw.includes('pusher:connection_established'), r.raw);
    assert.ok(!r.raw.includes('pusher:error'), r.raw);
  });

  test('kept: channel type by prefix without dashes (privatefoo needs auth)', async () => {
    const c = await connect();
    c.subscribe('privatefoo', { auth: 'x:bad' });
    await c.expectFrame(ERR.unauthorized);
    await c.subscribeOk('privatefoo'); // correctly signed
    c.subscribe('cachefoo');
    await c.expectFrame(succeeded('cachefoo'));
    await c.expectFrame('{"event":"pusher:cache_miss","channel":"cachefoo"}');
    await closeAll();
  });

  test('pusher:subscribe data given as a JSON string is accepted', async () => {
    const c = await connect();
    c.send(JSON.stringify({ event: 'pusher:subscribe', data: JSON.stringify({ channel: 'stringly' }) }));
    await c.expectFrame(succeeded('stringly'));
    await closeAll();
  });

  test('SIGTERM closes open sockets with a 4200-range close frame and exits 0', async () => {
    const s = await startServer({ apps: defaultApps() });
    const subscribed = await RawClient.connect(s, APP_A.key);
    await subscribed.subscribeOk('bye');
    const idle = await RawClient.connect(s, APP_A.key);
    const exit = s.stop();
    for (const c of [subscribed, idle]) {
      const { code } = await c.waitClosed(5000);
      assert.ok(code >= 4200 && code <= 4299, `close code ${code}`);
    }
    assert.deepEqual(await exit, { code: 0, signal: null });
  });

  test('an event accepted by the API just before SIGTERM reaches every subscriber before its close frame', async () => {
    const s = await startServer({ apps: defaultApps() });
    const socks = await Promise.all(Array.from({ length: 40 }, () => RawClient.connect(s, APP_A.key)));
    await Promise.all(socks.map((c) => c.subscribeOk('last-words')));
    const r = await api(s, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: 'Last', data: '{}', channel: 'last-words' } });
    assert.equal(r.status, 200);
    const exit = s.stop();
    for (const c of socks) await c.waitClosed(5000);
    const missing = socks.filter((c) => !c.frames.includes('{"event":"Last","data":"{}","channel":"last-words"}')).length;
    assert.equal(missing, 0, `${missing} of ${socks.length} sockets closed without the accepted event`);
    await exit;
  });

  test('opt-in auth_timestamp freshness window (REVERB_API_MAX_AGE) rejects old signatures', async () => {
    const s = await startServer({ apps: defaultApps(), env: { REVERB_API_MAX_AGE: 60 } });
    try {
      const body = { name: 'E', data: '{}', channel: 'fresh' };
      let r = await api(s, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body, timestamp: 1700000000 });
      assert.equal(r.status, 401, r.text);
      r = await api(s, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body });
      assert.equal(r.status, 200, r.text);
    } finally {
      await s.stop();
    }
  });
});
