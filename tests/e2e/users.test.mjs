// Pusher's user features, beyond Reverb, end to end with the real clients: pusher-js 8 signing in
// (pusher.signin(), user.bind, user.watchlist) with user_data signed by the `pusher` npm SDK's
// authenticateUser (what Laravel's PusherBroadcaster signs; users-laravel.test.mjs goes through the
// real Laravel route), sendToUser and terminateUserConnections from the `pusher` SDK, watchlist
// online/offline across two workers and two nodes on a real redis-server, subscription counts
// across two workers, the authorization deadline, and each of Pusher's limits with its answer.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { after, describe, test } from 'node:test';

import PusherServer from 'pusher';

import {
  APP_A, RawClient, api, createProject, echoClient, pusherClient, serverSdk, startRedis, startServer, waitConnected, waitFor,
} from './lib/harness.mjs';

const HOLD = 3000; // Pusher's hold before a user who left is reported offline

const started = [];
const clients = [];
after(async () => {
  for (const c of clients) {
    if (c.terminate) c.terminate();
    else c.disconnect?.();
  }
  for (const s of started.reverse()) await s.stop?.();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The `pusher` SDK's authenticateUser: HMAC-SHA256 of "socket_id::user::user_data".
const signer = (app) => new PusherServer({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1' });

async function start(app, opts = {}) {
  const server = await startServer({ apps: [app], ...opts });
  started.push(server);
  return server;
}

async function raw(server, key = APP_A.key) {
  const c = await RawClient.connect(server, key);
  clients.push(c);
  return c;
}

/** Signs a raw client in as user and checks pusher:signin_success. */
async function rawSignin(c, user) {
  const { auth, user_data: userData } = signer(c.app).authenticateUser(c.socketId, user);
  c.send({ event: 'pusher:signin', data: { auth, user_data: userData } });
  await c.expectFrame(JSON.stringify({ event: 'pusher:signin_success', data: JSON.stringify({ user_data: userData }) }));
}

/**
 * pusher-js signed in as user (userAuthentication through a custom handler signing with the SDK),
 * recording user events and watchlist events in p.got.
 */
async function signedIn(server, app, user, { events = [], pusherOptions = {} } = {}) {
  const sdk = signer(app);
  const p = pusherClient(server, app, {
    pusherOptions: {
      userAuthentication: { customHandler: ({ socketId }, cb) => cb(null, sdk.authenticateUser(socketId, user)) },
      ...pusherOptions,
    },
  });
  clients.push(p);
  p.got = [];
  for (const e of events) p.user.bind(e, (d) => p.got.push([e, d]));
  p.user.watchlist.bind('online', (e) => p.got.push(['online', ...e.user_ids]));
  p.user.watchlist.bind('offline', (e) => p.got.push(['offline', ...e.user_ids]));
  p.signin();
  await waitConnected(p);
  await waitFor(() => p.user.user_data?.id === user.id, { timeout: 5000, message: `user ${user.id} signed in` });
  return p;
}

const watched = (p) => p.got.filter(([n]) => n === 'online' || n === 'offline');

// ---------------------------------------------------------------------------

describe('sign-in and events to a user', () => {
  test('pusher-js signs in; sendToUser reaches every signed-in connection of that user; terminate too', async () => {
    const server = await start({ ...APP_A });
    const sdk = serverSdk(server, APP_A);
    const a = await signedIn(server, APP_A, { id: '7', user_info: { name: 'Ann' } }, { events: ['greeting'] });
    const b = await signedIn(server, APP_A, { id: '7' }, { events: ['greeting'] });
    const other = await signedIn(server, APP_A, { id: '8' }, { events: ['greeting'] });
    const rawA = await raw(server);
    await rawSignin(rawA, { id: '7' });
    const anon = await raw(server);
    // Laravel Echo hands userAuthentication to pusher-js as it is.
    const echo = echoClient(server, APP_A, {
      echoOptions: { userAuthentication: { customHandler: ({ socketId }, cb) => cb(null, signer(APP_A).authenticateUser(socketId, { id: '7' })) } },
    });
    clients.push(echo);
    const viaEcho = [];
    echo.connector.pusher.user.bind('greeting', (d) => viaEcho.push(d));
    echo.connector.pusher.signin();
    await waitFor(() => echo.connector.pusher.user.serverToUserChannel?.subscribed, { message: 'Echo signed in' });
    // pusher-js subscribed to its user channel (subscription_succeeded came back).
    await waitFor(() => a.user.serverToUserChannel?.subscribed, { message: 'user channel subscribed' });

    const res = await sdk.sendToUser('7', 'greeting', { hello: 'Ann é' });
    assert.equal(res.status, 200);
    await waitFor(() => a.got.length === 1 && b.got.length === 1, { message: 'both connections of user 7 got it' });
    assert.deepEqual(a.got, [['greeting', { hello: 'Ann é' }]]);
    assert.deepEqual(b.got, [['greeting', { hello: 'Ann é' }]]);
    await rawA.expectFrame('{"event":"greeting","data":"{\\"hello\\":\\"Ann \\u00e9\\"}","channel":"#server-to-user-7"}');
    await waitFor(() => viaEcho.length === 1, { message: 'Echo got it' });
    assert.deepEqual(viaEcho, [{ hello: 'Ann é' }]);
    await anon.expectNoFrame();
    assert.deepEqual(other.got, []);

    // terminateUserConnections reaches a signed-in socket with no presence membership.
    await sdk.terminateUserConnections('7');
    assert.equal((await rawA.waitClosed()).code, 4009);
    await waitFor(() => a.connection.state !== 'connected' && b.connection.state !== 'connected', { message: 'user 7 disconnected' });
    assert.equal(other.connection.state, 'connected');
    await anon.expectNoFrame();
  });

  test('exact frames: a refused sign-in closes with 4009; the user channel is the user\'s only', async () => {
    const server = await start({ ...APP_A });
    const c = await raw(server);
    await rawSignin(c, { id: '7', watchlist: ['1'] }); // no watchlist events: ignored
    c.subscribe('#server-to-user-7');
    await c.expectFrame('{"event":"pusher_internal:subscription_succeeded","data":"{}","channel":"#server-to-user-7"}');
    c.subscribe('#server-to-user-8');
    await c.expectFrame('{"event":"pusher:error","data":"{\\"code\\":4009,\\"message\\":\\"Connection is unauthorized\\"}"}');
    c.whisper('#server-to-user-8', 'client-hi', {});
    await c.expectFrame('{"event":"pusher:error","data":"{\\"code\\":4009,\\"message\\":\\"The client is not a member of the specified channel.\\"}"}');

    const forged = await raw(server);
    const { user_data: userData } = signer(APP_A).authenticateUser(forged.socketId, { id: '7' });
    forged.send({ event: 'pusher:signin', data: { auth: `${APP_A.key}:${'0'.repeat(64)}`, user_data: userData } });
    await forged.expectFrame('{"event":"pusher:error","data":"{\\"code\\":4009,\\"message\\":\\"Connection not authorized.\\"}"}');
    assert.deepEqual(await forged.waitClosed(), { code: 4009, reason: 'Connection not authorized.' });

    // Signed correctly, but the user data has no id.
    const noID = await raw(server);
    const bad = '{"user_info":{}}';
    noID.send({ event: 'pusher:signin', data: { auth: `${APP_A.key}:${hmac(APP_A.secret, `${noID.socketId}::user::${bad}`)}`, user_data: bad } });
    await noID.expectFrame('{"event":"pusher:error","data":"{\\"code\\":4009,\\"message\\":\\"The returned user data must contain the \\\\\\"id\\\\\\" field.\\"}"}');
    assert.equal((await noID.waitClosed()).code, 4009);

    // pusher-js sees the refusal as a connection error with Pusher's code, and does not retry.
    const p = pusherClient(server, APP_A, {
      pusherOptions: { userAuthentication: { customHandler: (_, cb) => cb(null, { auth: `${APP_A.key}:${'1'.repeat(64)}`, user_data: '{"id":"7"}' }) } },
    });
    clients.push(p);
    const errors = [];
    p.connection.bind('error', (e) => errors.push(e));
    p.signin();
    await waitFor(() => errors.some((e) => e.data?.code === 4009), { message: 'pusher-js error 4009' });
    await waitFor(() => p.connection.state === 'failed' || p.connection.state === 'disconnected', { message: 'pusher-js gave up' });
  });

  test('a signed-in pusher-js joins a presence channel with an authorization without channel_data: the member is its user', async () => {
    const server = await start({ ...APP_A });
    // The `pusher` SDK's authorizeChannel without presence data signs "socket_id:channel" only;
    // pusher-js then takes its own member id from the sign-in.
    const sdk = signer(APP_A);
    const authorizer = (channel) => ({ authorize: (socketId, cb) => cb(null, sdk.authorizeChannel(socketId, channel.name)) });
    const join = async (user) => {
      const p = await signedIn(server, APP_A, user, { pusherOptions: { authorizer } });
      const ch = p.subscribe('presence-lobby');
      await waitFor(() => ch.subscribed, { message: `user ${user.id} joined` });
      return ch;
    };
    const ann = await join({ id: '7', user_info: { name: 'Ann é/' } });
    assert.deepEqual(ann.members.me, { id: '7', info: { name: 'Ann é/' } });
    assert.equal(ann.members.count, 1);
    const bob = await join({ id: '8' });
    assert.equal(bob.members.count, 2);
    assert.deepEqual(bob.members.get('7'), { id: '7', info: { name: 'Ann é/' } });
    await waitFor(() => ann.members.count === 2, { message: 'Ann sees Bob' });
    const r = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels/presence-lobby/users`);
    assert.deepEqual(r.json, { users: [{ id: '7' }, { id: '8' }] });
  });

  test('enable_user_authentication: a connection not signed in within user_authentication_timeout is closed', async () => {
    const server = await start({ ...APP_A, enable_user_authentication: true, user_authentication_timeout: 1 });
    const idle = await raw(server);
    const signedC = await raw(server);
    await rawSignin(signedC, { id: '1' });
    const priv = await raw(server);
    await priv.subscribeOk('private-orders');
    const p = await signedIn(server, APP_A, { id: '2' });
    const t0 = performance.now();
    await idle.expectFrame('{"event":"pusher:error","data":"{\\"code\\":4009,\\"message\\":\\"Connection not authorized within timeout.\\"}"}', 5000);
    assert.deepEqual(await idle.waitClosed(), { code: 4009, reason: 'Connection not authorized within timeout.' });
    assert.ok(performance.now() - t0 < 3000);
    await sleep(1200);
    await signedC.expectNoFrame();
    await priv.expectNoFrame();
    assert.equal(p.connection.state, 'connected');
  });
});

function hmac(secret, s) { return crypto.createHmac('sha256', secret).update(s).digest('hex'); }

// ---------------------------------------------------------------------------

const WATCH_APP = { ...APP_A, enable_watchlist_events: true };

describe('watchlists', () => {
  test('two workers: online and offline once per user for every watcher; no flap on a reconnect', async () => {
    const server = await start(WATCH_APP, { workers: 2 });
    const w1 = await signedIn(server, WATCH_APP, { id: '1', watchlist: ['7', '8'] });
    const w2 = await signedIn(server, WATCH_APP, { id: '2', watchlist: ['7'] });
    await waitFor(() => watched(w1).length === 1 && watched(w2).length === 1, { message: 'initial status' });
    assert.deepEqual(watched(w1), [['offline', '7', '8']]);
    assert.deepEqual(watched(w2), [['offline', '7']]);

    // User 7 opens three tabs (over both workers): online once.
    const tabs = [];
    for (let i = 0; i < 3; i++) tabs.push(await signedIn(server, WATCH_APP, { id: '7', watchlist: ['1'] }));
    await waitFor(() => watched(w1).length === 2 && watched(w2).length === 2, { message: 'online 7' });
    for (const t of tabs) await waitFor(() => watched(t).length === 1, { message: 'a tab\'s initial status' });
    assert.deepEqual(watched(tabs[0]), [['online', '1']]);
    // Two tabs close, one reloads within the hold: still nothing.
    tabs[0].disconnect();
    tabs[1].disconnect();
    tabs[2].disconnect();
    await sleep(500);
    const back = await signedIn(server, WATCH_APP, { id: '7' });
    await sleep(HOLD + 1000);
    assert.deepEqual(watched(w1), [['offline', '7', '8'], ['online', '7']]);
    assert.deepEqual(watched(w2), [['offline', '7'], ['online', '7']]);
    // Gone for good: offline once, after the hold.
    const left = performance.now();
    back.disconnect();
    await waitFor(() => watched(w1).length === 3 && watched(w2).length === 3, { timeout: HOLD + 5000, message: 'offline 7' });
    assert.ok(performance.now() - left >= HOLD - 300, `offline after ${Math.round(performance.now() - left)} ms`);
    await sleep(500);
    assert.deepEqual(watched(w1), [['offline', '7', '8'], ['online', '7'], ['offline', '7']]);
    assert.deepEqual(watched(w2), [['offline', '7'], ['online', '7'], ['offline', '7']]);
  });

  test('over 100 ids: the first 100 count, and pusher:error 4302 says so', async () => {
    const server = await start(WATCH_APP);
    const c = await raw(server);
    const ids = Array.from({ length: 120 }, (_, i) => String(1000 + i));
    await rawSignin(c, { id: '1', watchlist: ids });
    await c.expectFrame('{"event":"pusher:error","data":"{\\"code\\":4302,\\"message\\":\\"Watchlist limit exceeded. Only the first 100 user IDs are accepted.\\"}"}');
    await c.expectFrame({ event: 'pusher_internal:watchlist_events', data: { events: [{ name: 'offline', user_ids: ids.slice(0, 100) }] } });
    const late = await raw(server);
    await rawSignin(late, { id: '1119' }); // the 120th: not watched
    await rawSignin(await raw(server), { id: '1099' }); // the 100th: watched
    await c.expectFrame({ event: 'pusher_internal:watchlist_events', data: { events: [{ name: 'online', user_ids: ['1099'] }] } });
    await c.expectNoFrame();
  });

  const haveRedis = spawnSync('redis-server', ['--version']).status === 0;
  test('two nodes on a real redis-server: online and offline cross nodes; a stopped node\'s users go offline once',
    { skip: haveRedis ? false : 'redis-server not installed (CI installs it)' }, async () => {
      const redis = await startRedis();
      started.push(redis);
      const redisPort = redis.port;
      const project = await createProject({
        apps: [WATCH_APP],
        env: {
          REVERB_SCALING_ENABLED: 'true', REVERB_SCALING_CHANNEL: `reverb-e2e-users-${process.pid}`,
          REDIS_HOST: '127.0.0.1', REDIS_PORT: String(redisPort), REDIS_PASSWORD: 'null',
        },
      });
      started.push({ stop: () => project.cleanup() });
      const node1 = await startServer({ project, workers: 1 });
      started.push(node1);
      await node1.waitForOutput(/Redis connection established/, 10000);
      const node2 = await startServer({ project, workers: 2 });
      started.push(node2);
      await node2.waitForOutput(/Redis connection established/, 10000);

      const w = await signedIn(node1, WATCH_APP, { id: '1', watchlist: ['7', '8'] });
      await waitFor(() => watched(w).length === 1, { message: 'initial status' });
      const u7 = await signedIn(node2, WATCH_APP, { id: '7' });
      const u7b = await signedIn(node2, WATCH_APP, { id: '7' });
      const u8 = await signedIn(node1, WATCH_APP, { id: '8' });
      await waitFor(() => watched(w).length === 3, { timeout: 5000, message: 'online 7 and 8' });
      assert.deepEqual(watched(w).slice(1).sort(), [['online', '7'], ['online', '8']]);
      // A watcher on node 2 sees the state as of its sign-in.
      const w2 = await signedIn(node2, WATCH_APP, { id: '2', watchlist: ['8', '9'] });
      await waitFor(() => watched(w2).length === 2, { message: 'initial status on node 2' });
      assert.deepEqual(watched(w2), [['online', '8'], ['offline', '9']]);
      u8.disconnect();
      await waitFor(() => watched(w).length === 4 && watched(w2).length === 3, { timeout: HOLD + 5000, message: 'offline 8 on both nodes' });
      assert.deepEqual(watched(w)[3], ['offline', '8']);
      assert.deepEqual(watched(w2)[2], ['offline', '8']);

      // Node 2 stops (its sockets drain, it says it is gone): user 7 goes offline once.
      u7.disconnect();
      await node2.stop();
      u7b.disconnect();
      await waitFor(() => watched(w).length === 5, { timeout: HOLD + 10000, message: 'offline 7 after node 2 stopped' });
      await sleep(1000);
      assert.deepEqual(watched(w)[4], ['offline', '7']);
      assert.equal(watched(w).length, 5);
      await node1.stop();
    });
});

// ---------------------------------------------------------------------------

describe('subscription counts', () => {
  test('enable_subscription_count: every subscriber of a channel hears its count change, over two workers', async () => {
    const app = { ...APP_A, enable_subscription_count: true };
    const server = await start(app, { workers: 2 });
    const clientsN = [];
    const counts = [];
    for (let i = 0; i < 4; i++) {
      const p = pusherClient(server, app);
      clients.push(p);
      await waitConnected(p);
      const seen = [];
      counts.push(seen);
      const ch = p.subscribe('news');
      ch.bind('pusher:subscription_count', (d) => seen.push(d.subscription_count));
      await new Promise((r) => ch.bind('pusher:subscription_succeeded', r));
      clientsN.push(p);
      await waitFor(() => counts.every((s) => s.at(-1) === i + 1), { message: `everyone at ${i + 1}` });
    }
    assert.equal(clientsN[0].channel('news').subscriptionCount, 4);
    clientsN[3].unsubscribe('news');
    await waitFor(() => counts.slice(0, 3).every((s) => s.at(-1) === 3), { message: 'back to 3' });
    // No count on presence channels (as Pusher).
    const c = await raw(server);
    await c.subscribeOk('presence-room', { channelData: { user_id: 1 } });
    await c.expectNoFrame();
    // A public channel: the exact frame.
    const d = await raw(server);
    await d.subscribeOk('alone');
    await d.expectFrame('{"event":"pusher_internal:subscription_count","data":"{\\"subscription_count\\":1}","channel":"alone"}');
  });
});

// ---------------------------------------------------------------------------

const PUSHER_LIMITS = {
  max_presence_members_per_channel: 100, max_event_channels_at_once: 100, max_event_name_length: 200,
  max_event_payload_in_kb: 10, max_event_batch_size: 10,
};

describe("Pusher's limits, opted in", () => {
  test('HTTP API: 100 channels, 200-character names, 10 KB of data, 10 events per batch', async () => {
    const app = { ...APP_A, ...PUSHER_LIMITS };
    const server = await start(app, { maxRequestSize: 200000 });
    const sdk = serverSdk(server, app);
    const channels = (n) => Array.from({ length: n }, (_, i) => `c${i}`);
    const post = (body) => api(server, app, 'POST', `/apps/${app.id}/events`, { body });
    const within = await post({ name: 'e'.repeat(200), data: 'x'.repeat(10240), channels: channels(100) });
    assert.equal(within.status, 200, within.text);

    let r = await post({ name: 'e', data: 'x', channels: channels(101) });
    assert.deepEqual([r.status, r.text], [400, 'Cannot broadcast to more than 100 channels at once']);
    r = await post({ name: 'e'.repeat(201), data: 'x', channel: 'c' });
    assert.deepEqual([r.status, r.text], [400, 'Event name is too long. Maximum allowed size is 200.']);
    const tooLarge = 'The data content of this event exceeds the allowed maximum (10240 bytes). See https://pusher.com/docs/channels/server_api/http-api#publishing-events for more info';
    // The SDKs surface Pusher's answer as it is.
    await assert.rejects(sdk.trigger('c', 'e', 'x'.repeat(10241)), (e) => e.status === 413 && e.body === tooLarge);
    await assert.rejects(sdk.triggerBatch(Array.from({ length: 11 }, (_, i) => ({ channel: 'c', name: `e${i}`, data: '1' }))),
      (e) => e.status === 400 && e.body === 'Cannot batch-send more than 10 messages at once');
    r = await api(server, app, 'POST', `/apps/${app.id}/batch_events`, { body: { batch: [{ channel: 'c', name: 'e', data: 'x'.repeat(10241) }] } });
    assert.deepEqual([r.status, r.text, r.headers['content-type']], [413, tooLarge, 'text/plain; charset=utf-8']);
    assert.equal((await sdk.triggerBatch(Array.from({ length: 10 }, (_, i) => ({ channel: 'c', name: `e${i}`, data: '1' })))).status, 200);

    // The same requests without the settings: Reverb's answers.
    const plain = await start({ ...APP_A }, { maxRequestSize: 200000 });
    r = await api(plain, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: 'e'.repeat(300), data: 'x'.repeat(20000), channels: channels(150) } });
    assert.equal(r.status, 200, r.text);
  });

  test('presence channels: the 101st user gets subscription_error; the same user may add a socket', async () => {
    const app = { ...APP_A, ...PUSHER_LIMITS };
    const server = await start(app);
    const members = [];
    for (let i = 1; i <= 100; i++) {
      const c = await raw(server);
      await c.subscribeOk('presence-hall', { channelData: { user_id: i } });
      members.push(c);
    }
    const extra = await raw(server);
    extra.subscribe('presence-hall', { channelData: { user_id: 101 } });
    await extra.expectFrame('{"event":"pusher:subscription_error","data":"{\\"type\\":\\"LimitReached\\",\\"error\\":\\"The maximum members per presence channel limit was reached\\",\\"status\\":4100}","channel":"presence-hall"}');
    const again = await raw(server);
    await again.subscribeOk('presence-hall', { channelData: { user_id: 5 } });
    // pusher-js hands the error to the channel's subscription_error listeners (Echo's .error()).
    const p = pusherClient(server, app, { user: { id: 102, info: {} } });
    clients.push(p);
    const ch = p.subscribe('presence-hall');
    const err = await new Promise((r) => ch.bind('pusher:subscription_error', r));
    assert.deepEqual(err, { type: 'LimitReached', error: 'The maximum members per presence channel limit was reached', status: 4100 });
    // The members heard of nobody new.
    const first = members[0];
    await first.nextWhere((f) => f.includes('member_added') && f.includes('\\"user_id\\":100'), 5000);
    await first.expectNoFrame();
  });

  test('client events: 200-character names and 10 KB of data, answered with pusher:error', async () => {
    const app = { ...APP_A, ...PUSHER_LIMITS, max_message_size: 100000 };
    const server = await start(app);
    const a = await raw(server);
    const b = await raw(server);
    await a.subscribeOk('private-chat');
    await b.subscribeOk('private-chat');
    a.whisper('private-chat', 'client-' + 'n'.repeat(193), { ok: 1 });
    await b.nextWhere((f) => f.includes('client-nnn'));
    a.whisper('private-chat', 'client-' + 'n'.repeat(193), { text: 'y'.repeat(10240 - 11) });
    await b.nextWhere((f) => f.includes('yyy'));
    a.whisper('private-chat', 'client-' + 'n'.repeat(193), { text: 'y'.repeat(10240 - 10) });
    await a.expectFrame('{"event":"pusher:error","data":"{\\"code\\":null,\\"message\\":\\"The data content of this event exceeds the allowed maximum (10240 bytes). See https:\\\\\\/\\\\\\/pusher.com\\\\\\/docs\\\\\\/channels\\\\\\/server_api\\\\\\/http-api#publishing-events for more info\\"}"}');
    a.whisper('private-chat', 'client-' + 'n'.repeat(193), {});
    await b.nextWhere((f) => f.includes('client-nnn'));
    a.whisper('private-chat', 'client-' + 'n'.repeat(194), {});
    await a.expectFrame('{"event":"pusher:error","data":"{\\"code\\":null,\\"message\\":\\"Event name is too long. Maximum allowed size is 200.\\"}"}');
    await b.expectNoFrame();
  });
});
