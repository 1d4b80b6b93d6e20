// A browser-like flow with the real clients: laravel-echo (`reverb` broadcaster) on pusher-js
// with a Laravel-style HMAC authorizer, and every HTTP API route through the official `pusher`
// server SDK (what Laravel's broadcaster and other backends use).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import { APP_A, APP_B, RawClient, defaultApps, echoClient, pusherClient, serverSdk, startServer, waitConnected, waitFor } from './lib/harness.mjs';
import { phpJson } from './lib/frames.mjs';

let server;
let sdk;
const cleanups = [];

before(async () => {
  server = await startServer({ apps: defaultApps() });
  sdk = serverSdk(server, APP_A);
});

after(async () => {
  for (const c of cleanups.splice(0)) c();
  await server?.stop();
});

function echo(user) {
  const e = echoClient(server, APP_A, { user });
  cleanups.push(() => e.disconnect());
  return e;
}

/** Resolves when an Echo channel reports subscribed, rejects on its error callback. */
function subscribed(channel, timeout = 3000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`channel ${channel.name} not subscribed within ${timeout} ms`)), timeout);
    channel.subscribed(() => { clearTimeout(t); resolve(); });
    channel.error((e) => { clearTimeout(t); reject(new Error(`subscription error on ${channel.name}: ${JSON.stringify(e)}`)); });
  });
}

/** Collects values passed to a callback; `next()` resolves with the next one. */
function collector() {
  const items = [];
  const waiters = [];
  return {
    items,
    push(v) { items.push(v); waiters.splice(0).forEach((w) => w()); },
    async next(timeout = 3000) {
      const idx = this.read ?? 0;
      await waitFor(() => items.length > idx, { timeout, message: 'next callback value' });
      this.read = idx + 1;
      return items[idx];
    },
  };
}

const json = async (res) => JSON.parse(await res.text());

describe('laravel-echo on pusher-js', () => {
  test('connects with a Pusher socket id', async () => {
    const e = echo();
    const id = await waitConnected(e.connector.pusher);
    assert.match(id, /^\d+\.\d+$/);
    assert.equal(e.socketId(), id);
  });

  test('private channel: real HMAC authorizer, event from the SDK, toOthers excludes the sender', async () => {
    const alice = echo({ id: 1, info: { name: 'Alice' } });
    const bob = echo({ id: 2, info: { name: 'Bob' } });
    const aliceGot = collector();
    const bobGot = collector();
    const a = alice.private('orders.1').listen('OrderShipped', (e) => aliceGot.push(e));
    const b = bob.private('orders.1').listen('OrderShipped', (e) => bobGot.push(e));
    await Promise.all([subscribed(a), subscribed(b)]);

    // What Laravel does for broadcast(new OrderShipped($order))->toOthers() from Alice's request.
    let res = await sdk.trigger('private-orders.1', 'App\\Events\\OrderShipped', { order: { id: 1 } }, { socket_id: alice.socketId() });
    assert.equal(res.status, 200);
    assert.deepEqual(await json(res), {});
    assert.deepEqual(await bobGot.next(), { order: { id: 1 } });

    res = await sdk.trigger('private-orders.1', 'App\\Events\\OrderShipped', { order: { id: 2 } });
    assert.equal(res.status, 200);
    assert.deepEqual(await bobGot.next(), { order: { id: 2 } });
    // Alice's first event is the second one: the first was excluded by socket_id.
    assert.deepEqual(await aliceGot.next(), { order: { id: 2 } });
    assert.equal(aliceGot.items.length, 1);
  });

  test('private channel refused when the authorizer signs with the wrong secret', async () => {
    const e = echoClient(server, { ...APP_A, secret: 'wrong-secret' });
    cleanups.push(() => e.disconnect());
    const ch = e.private('secret.1');
    await assert.rejects(subscribed(ch, 1500), /subscription error|not subscribed/);
  });

  test('presence: here, joining, leaving', async () => {
    const alice = echo({ id: 1, info: { name: 'Alice' } });
    const here = collector();
    const joining = collector();
    const leaving = collector();
    alice.join('chat.1').here((users) => here.push(users)).joining((u) => joining.push(u)).leaving((u) => leaving.push(u));
    assert.deepEqual(await here.next(), [{ name: 'Alice' }]);

    const bob = echo({ id: 2, info: { name: 'Bob' } });
    const bobHere = collector();
    bob.join('chat.1').here((users) => bobHere.push(users));
    const seenByBob = await bobHere.next();
    assert.deepEqual(seenByBob.map((u) => u.name).sort(), ['Alice', 'Bob']);
    assert.deepEqual(await joining.next(), { name: 'Bob' });

    bob.leave('chat.1');
    assert.deepEqual(await leaving.next(), { name: 'Bob' });

    const members = alice.connector.pusher.channel('presence-chat.1').members;
    assert.equal(members.count, 1);
    assert.equal(members.me.id, '1');
  });

  test('whisper / listenForWhisper on a private channel', async () => {
    const alice = echo({ id: 1, info: { name: 'Alice' } });
    const bob = echo({ id: 2, info: { name: 'Bob' } });
    const typing = collector();
    const aliceSelf = collector();
    const a = alice.private('chat.2').listenForWhisper('typing', (e) => aliceSelf.push(e));
    const b = bob.private('chat.2').listenForWhisper('typing', (e) => typing.push(e));
    await Promise.all([subscribed(a), subscribed(b)]);
    a.whisper('typing', { name: 'Alice', nested: {} });
    assert.deepEqual(await typing.next(), { name: 'Alice', nested: {} });
    b.whisper('typing', { name: 'Bob' });
    assert.deepEqual(await aliceSelf.next(), { name: 'Bob' });
    assert.equal(aliceSelf.items.length, 1, 'the sender never gets its own whisper');
  });

  test('whisper on a presence channel', async () => {
    const alice = echo({ id: 1, info: { name: 'Alice' } });
    const bob = echo({ id: 2, info: { name: 'Bob' } });
    const got = collector();
    const bobHere = collector();
    const aliceHere = collector();
    const a = alice.join('room.3').here((u) => aliceHere.push(u));
    await aliceHere.next();
    bob.join('room.3').here((u) => bobHere.push(u)).listenForWhisper('typing', (e) => got.push(e));
    await bobHere.next();
    a.whisper('typing', { name: 'Alice' });
    assert.deepEqual(await got.next(), { name: 'Alice' });
  });

  test('pusher-js gives up (refused → disconnected, no retry) on an unknown key and on the connection quota', async () => {
    for (const [app, code] of [[{ ...APP_A, key: 'no-such-key' }, 4001], [APP_B, 4004]]) {
      let holder;
      if (code === 4004) {
        holder = pusherClient(server, APP_B);
        cleanups.push(() => holder.disconnect());
        await waitConnected(holder);
      }
      const p = pusherClient(server, app);
      cleanups.push(() => p.disconnect());
      const errors = [];
      p.connection.bind('error', (e) => errors.push(e));
      await waitFor(() => errors.length > 0 && p.connection.state === 'disconnected', { timeout: 5000, message: `pusher-js disconnected after ${code} (state ${p.connection.state})` });
      assert.ok(errors.some((e) => e?.data?.code === code || e?.error?.data?.code === code), JSON.stringify(errors));
      p.disconnect();
      holder?.disconnect();
    }
  });

  test('public channel via pusher-js directly', async () => {
    const p = pusherClient(server, APP_A);
    cleanups.push(() => p.disconnect());
    const ch = p.subscribe('news');
    await new Promise((resolve) => ch.bind('pusher:subscription_succeeded', resolve));
    const got = collector();
    ch.bind('Published', (d) => got.push(d));
    const res = await sdk.trigger('news', 'Published', 'plain string data');
    assert.equal(res.status, 200);
    assert.equal(await got.next(), 'plain string data');
  });
});

describe('encrypted channels and a PHP-made broadcast', () => {
  test('private-encrypted: Echo decrypts what the SDK encrypted; the server relays it opaque', async () => {
    const master = crypto.randomBytes(32).toString('base64');
    const app = { ...APP_A, encryptionMasterKeyBase64: master };
    const e = echoClient(server, app);
    cleanups.push(() => e.disconnect());
    const got = collector();
    const ch = e.encryptedPrivate('vault.1').listen('Secret', (d) => got.push(d));
    await subscribed(ch);
    const raw = await RawClient.connect(server, APP_A.key);
    await raw.subscribeOk('private-encrypted-vault.1');
    const res = await serverSdk(server, APP_A, { encryptionMasterKeyBase64: master }).trigger('private-encrypted-vault.1', 'App\\Events\\Secret', { code: 42 });
    assert.equal(res.status, 200);
    assert.deepEqual(await got.next(), { code: 42 });
    const frame = JSON.parse(await raw.next());
    assert.deepEqual(Object.keys(JSON.parse(frame.data)).sort(), ['ciphertext', 'nonce']);
    raw.close();
    await raw.waitClosed();
  });

  test('a broadcast built by PHP like pusher-http-php (json_encode, ksort, hash_hmac) reaches Echo', async (t) => {
    const script = `
      [$id, $key, $secret] = array_slice($argv, 1);
      $payload = ['order' => ['id' => 1, 'url' => 'https://shop.example/orders/1', 'title' => 'Café']];
      $body = json_encode(['name' => 'App\\Events\\OrderShipped', 'data' => json_encode($payload), 'channel' => 'private-orders.9']);
      $params = ['auth_key' => $key, 'auth_timestamp' => time(), 'auth_version' => '1.0', 'body_md5' => md5($body)];
      ksort($params);
      $pairs = [];
      foreach ($params as $k => $v) { $pairs[] = "$k=$v"; }
      $path = "/apps/$id/events";
      $params['auth_signature'] = hash_hmac('sha256', "POST\n$path\n" . implode('&', $pairs), $secret);
      echo json_encode(['url' => $path . '?' . http_build_query($params), 'body' => $body, 'data' => json_encode($payload)]);
    `;
    let out;
    try {
      out = JSON.parse(execFileSync('php', ['-r', script, APP_A.id, APP_A.key, APP_A.secret]).toString());
    } catch (err) {
      if (err.code === 'ENOENT') return t.skip('php not installed');
      throw err;
    }
    const e = echo({ id: 1 });
    const got = collector();
    const ch = e.private('orders.9').listen('OrderShipped', (d) => got.push(d));
    await subscribed(ch);
    const raw = await RawClient.connect(server, APP_A.key);
    await raw.subscribeOk('private-orders.9');
    const status = await new Promise((resolve, reject) => {
      const req = http.request({ host: server.host, port: server.port, method: 'POST', path: out.url, headers: { 'Content-Type': 'application/json', 'X-Pusher-Library': 'pusher-http-php 7.2.6' } }, (r) => { r.resume(); resolve(r.statusCode); });
      req.on('error', reject);
      req.end(out.body);
    });
    assert.equal(status, 200);
    assert.deepEqual(await got.next(), { order: { id: 1, url: 'https://shop.example/orders/1', title: 'Café' } });
    await raw.expectFrame(phpJson({ event: 'App\\Events\\OrderShipped', data: out.data, channel: 'private-orders.9' }));
    raw.close();
    await raw.waitClosed();
  });
});

describe('deploys', () => {
  test('pusher-js reconnects and resubscribes when the server is stopped and started again', async () => {
    const first = await startServer({ apps: defaultApps() });
    const p = pusherClient(first, APP_A);
    cleanups.push(() => p.disconnect());
    const firstId = await waitConnected(p);
    const ch = p.subscribe('private-deploy');
    await new Promise((resolve) => ch.bind('pusher:subscription_succeeded', resolve));
    const states = [];
    p.connection.bind('state_change', (s) => states.push(s.current));
    const port = first.port;
    await first.stop();
    const second = await startServer({ apps: defaultApps(), port });
    try {
      const resubscribed = new Promise((resolve) => ch.bind('pusher:subscription_succeeded', resolve));
      await waitFor(() => p.connection.state === 'connected' && p.connection.socket_id !== firstId, { timeout: 30000, message: `pusher-js to reconnect (its own backoff after a refused attempt takes ~15 s) (states ${states})` });
      await resubscribed;
      assert.ok(!states.includes('failed'), `states ${states}`);
      const got = new Promise((resolve) => ch.bind('Deployed', resolve));
      const res = await serverSdk(second, APP_A).trigger('private-deploy', 'Deployed', { v: 2 });
      assert.equal(res.status, 200);
      assert.deepEqual(await got, { v: 2 });
    } finally {
      p.disconnect();
      await second.stop();
    }
  });
});

describe('every API route through the pusher SDK', () => {
  test('trigger with info, triggerBatch, channels, channel, users, connections, terminate', async () => {
    const app = APP_A;
    const raw = await RawClient.connect(server, app.key);
    const user = pusherClient(server, app, { user: { id: 'u-77', info: { name: 'Seventy-Seven' } } });
    cleanups.push(() => user.disconnect());
    await waitConnected(user);
    const pres = user.subscribe('presence-sdk');
    await new Promise((resolve) => pres.bind('pusher:subscription_succeeded', resolve));
    await raw.subscribeOk('sdk-public');

    let res = await sdk.trigger(['presence-sdk', 'sdk-public'], 'Ping', { n: 1 }, { info: 'user_count,subscription_count' });
    assert.deepEqual(await json(res), { channels: { 'presence-sdk': { user_count: 1 }, 'sdk-public': { subscription_count: 1 } } });
    assert.deepEqual(JSON.parse(await raw.next()), { event: 'Ping', data: '{"n":1}', channel: 'sdk-public' });

    res = await sdk.triggerBatch([
      { channel: 'sdk-public', name: 'B1', data: { n: 1 } },
      { channel: 'sdk-public', name: 'B2', data: 'two', info: 'subscription_count' },
    ]);
    assert.deepEqual(await json(res), { batch: [{}, { subscription_count: 1 }] });
    assert.equal(await raw.next(), '{"event":"B1","channel":"sdk-public","data":"{\\"n\\":1}"}');
    assert.equal(await raw.next(), '{"event":"B2","channel":"sdk-public","data":"two"}');

    res = await sdk.get({ path: '/channels', params: { filter_by_prefix: 'presence-sdk', info: 'user_count' } });
    assert.deepEqual(await json(res), { channels: { 'presence-sdk': { user_count: 1 } } });
    res = await sdk.get({ path: '/channels/sdk-public', params: { info: 'subscription_count' } });
    assert.deepEqual(await json(res), { occupied: true, subscription_count: 1 });
    res = await sdk.get({ path: '/channels/presence-sdk/users' });
    assert.deepEqual(await json(res), { users: [{ id: 'u-77' }] });
    res = await sdk.get({ path: '/connections' });
    const { connections } = await json(res);
    assert.ok(connections >= 2, `connections ${connections}`);

    // The SDK's own channel authorization is accepted too.
    const auth = sdk.authorizeChannel(raw.socketId, 'presence-sdk', { user_id: 'u-88', user_info: { name: 'Eighty-Eight' } });
    raw.subscribe('presence-sdk', { auth: auth.auth, channelData: auth.channel_data });
    const ok = JSON.parse(await raw.next());
    assert.equal(ok.event, 'pusher_internal:subscription_succeeded');
    assert.equal(JSON.parse(ok.data).presence.count, 2);

    const gone = new Promise((resolve) => user.connection.bind('state_change', (s) => { if (s.current !== 'connected') resolve(s.current); }));
    res = await sdk.terminateUserConnections('u-77');
    assert.equal(res.status, 200);
    assert.deepEqual(await json(res), {});
    await gone;
    assert.equal(await raw.next(), '{"event":"pusher_internal:member_removed","data":"{\\"user_id\\":\\"u-77\\"}","channel":"presence-sdk"}');
    res = await sdk.get({ path: '/channels/presence-sdk/users' });
    assert.deepEqual(await json(res), { users: [{ id: 'u-88' }] });
    raw.close();
    await raw.waitClosed();
  });

  test('the SDK sees HTTP errors as RequestError with the status', async () => {
    const bad = serverSdk(server, { ...APP_A, secret: 'nope' });
    await assert.rejects(bad.trigger('x', 'y', {}), (e) => e.status === 401);
    const unknown = serverSdk(server, { ...APP_A, id: '424242' });
    await assert.rejects(unknown.get({ path: '/connections' }), (e) => e.status === 404);
  });
});
