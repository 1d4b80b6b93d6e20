// Spec §15 cases 29–30 and the README decisions on pruning: the ping/prune sweep, shortened
// with `--ping-sweep 1s` and ping_interval 1 (so a silent socket is pinged after ~1–2 s and
// pruned one sweep later).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { RawClient, startServer } from './lib/harness.mjs';
import { ERR, PING, PONG } from './lib/frames.mjs';

const APP_FAST = { id: '400001', key: 'reverb-key-fast', secret: 'reverb-secret-fast', ping_interval: 1, activity_timeout: 30 };

let server;
const SWEEP_WAIT = 5000; // two sweeps of 1 s plus the 1 s ping_interval, with slack for a loaded CI box

before(async () => {
  server = await startServer({ apps: [APP_FAST], pingSweep: '1s' });
});

after(async () => {
  await server?.stop();
});

describe('ping and prune sweep (case 30)', () => {
  test('30: a silent subscribed socket gets pusher:ping, then 4201 and a close frame 4201', async () => {
    const c = await RawClient.connect(server, APP_FAST.key);
    await c.subscribeOk('test-channel-30');
    await c.expectFrame(PING, SWEEP_WAIT);
    await c.expectFrame(ERR.pongTimeout, SWEEP_WAIT);
    const closed = await c.waitClosed();
    assert.equal(closed.code, 4201, 'README decision: 4201 with a close frame');
  });

  test('30: answering pusher:ping with pusher:pong keeps the socket', async () => {
    const c = await RawClient.connect(server, APP_FAST.key);
    await c.subscribeOk('test-channel-30b');
    await c.expectFrame(PING, SWEEP_WAIT);
    c.send('{"event":"pusher:pong"}');
    // Next sweep after another ping_interval of silence: pinged again, not pruned.
    await c.expectFrame(PING, SWEEP_WAIT);
    assert.equal(c.closeInfo, undefined);
    c.close();
    await c.waitClosed();
  });

  test('30: a socket that sent a ping control frame is pinged with a ping frame', async () => {
    const c = await RawClient.connect(server, APP_FAST.key);
    await c.subscribeOk('test-channel-30c');
    c.ping('x');
    assert.equal((await c.nextControl('pong')).data, 'x');
    // ws answers ping frames with pong frames automatically, so this socket stays alive.
    const ping = await c.nextControl('ping', SWEEP_WAIT);
    assert.equal(ping.data, '');
    await c.expectNoFrame();
    assert.ok(!c.frames.includes(PING), 'no pusher:ping text frame for a control-frame client');
    c.close();
    await c.waitClosed();
  });

  test('29: a pong control frame refreshes activity like pusher:pong', async () => {
    const c = await RawClient.connect(server, APP_FAST.key);
    await c.subscribeOk('test-channel-29');
    await c.expectFrame(PING, SWEEP_WAIT);
    c.pong();
    // Now a control-frame client: the next sweep sends a ping frame, never 4201.
    const ping = await c.nextControl('ping', SWEEP_WAIT);
    assert.equal(ping.data, '');
    assert.equal(c.closeInfo, undefined);
    c.close();
    await c.waitClosed();
  });

  test('decision: a never-subscribed idle socket is pinged and pruned too', async () => {
    const c = await RawClient.connect(server, APP_FAST.key);
    await c.expectFrame(PING, SWEEP_WAIT);
    await c.expectFrame(ERR.pongTimeout, SWEEP_WAIT);
    assert.equal((await c.waitClosed()).code, 4201);
  });

  test('pusher:ping from the client is answered at once and keeps it active', async () => {
    const c = await RawClient.connect(server, APP_FAST.key);
    await c.subscribeOk('test-channel-ping');
    c.send('{"event":"pusher:ping"}');
    await c.expectFrame(PONG);
    c.close();
    await c.waitClosed();
  });
});
