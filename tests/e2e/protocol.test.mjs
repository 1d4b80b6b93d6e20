// Spec §15 cases 1–29 and 31: the Pusher protocol over raw WebSockets, exact frames.
// One server for the whole file; every test uses its own channel names and closes its sockets.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import { APP_A, APP_B, APP_C, RawClient, api, channelAuth, defaultApps, startServer, waitFor } from './lib/harness.mjs';
import { ERR, PONG, apiEvent, cacheMiss, established, memberAdded, memberRemoved, phpJson, presenceData, succeeded } from './lib/frames.mjs';

const APP_NONE = { id: '111111', key: 'reverb-key-none', secret: 'reverb-secret-none', accept_client_events_from: 'none' };
const APP_ALL = { id: '111112', key: 'reverb-key-all', secret: 'reverb-secret-all', accept_client_events_from: 'all' };
const APP_RL = { id: '222222', key: 'reverb-key-rl', secret: 'reverb-secret-rl', rate_limiting: { enabled: true, max_attempts: 3, decay_seconds: 1, terminate_on_limit: false } };
const APP_RLT = { id: '222223', key: 'reverb-key-rlt', secret: 'reverb-secret-rlt', rate_limiting: { enabled: true, max_attempts: 3, decay_seconds: 1, terminate_on_limit: true } };
const ORIGIN_APPS = [
  { id: '300001', key: 'origin-localhost', secret: 's1', allowed_origins: ['localhost'] },
  { id: '300002', key: 'origin-sub-localhost', secret: 's2', allowed_origins: ['localhost', '*.localhost'] },
  { id: '300003', key: 'origin-laravel', secret: 's3', allowed_origins: ['laravel.com'] },
  { id: '300004', key: 'origin-star-laravel', secret: 's4', allowed_origins: ['*.laravel.com'] },
  { id: '300005', key: 'origin-scheme', secret: 's5', allowed_origins: ['https://laravel.com'] },
];

let server;
const clients = [];

before(async () => {
  server = await startServer({ apps: [...defaultApps(), APP_NONE, APP_ALL, APP_RL, APP_RLT, ...ORIGIN_APPS] });
});

after(async () => {
  await server?.stop();
});

async function connect(key = APP_A.key, opts) {
  const c = await RawClient.connect(server, key, opts);
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

/** Waits until the server no longer counts any connection of app (so max_connections is free again). */
async function waitNoConnections(app) {
  await waitFor(async () => (await api(server, app, 'GET', `/apps/${app.id}/connections`)).json?.connections === 0,
    { timeout: 3000, message: `no connections left on app ${app.id}` });
}

describe('connecting (cases 1–6)', () => {
  test('1: connection_established with a Pusher socket id and activity_timeout', async () => {
    const c = await connect();
    assert.match(c.socketId, /^\d+\.\d+$/);
    assert.equal(c.established, established(c.socketId, 30));
    await closeAll();
  });

  test('2: unknown app key gets 4001 and the socket is closed with code 4001', async () => {
    const c = await connect('invalid-key', { expectEstablished: false });
    await c.expectFrame(ERR.appMissing);
    const closed = await c.waitClosed();
    assert.equal(closed.code, 4001, 'README decision: close with the error code');
  });

  test('3: the upgrade response carries X-Powered-By: Laravel Reverb', async () => {
    const c = await connect();
    assert.equal(c.upgradeHeaders['x-powered-by'], 'Laravel Reverb');
    await closeAll();
  });

  test('4: allowed_origins [laravel.com]: no Origin → 4009 and close 4009; http://laravel.com → established', async () => {
    const bad = await connect(APP_C.key, { expectEstablished: false });
    await bad.expectFrame(ERR.originNotAllowed);
    assert.equal((await bad.waitClosed()).code, 4009);
    const good = await connect(APP_C.key, { origin: 'http://laravel.com' });
    assert.equal(good.established, established(good.socketId, 30));
    await closeAll();
  });

  const originTable = [
    ['http://localhost', 'origin-localhost', true],
    ['http://localhost:3000', 'origin-localhost', true],
    ['http://sub.localhost', 'origin-sub-localhost', true],
    ['http://localhost', 'origin-laravel', false],
    ['http://sub.laravel.com', 'origin-laravel', false],
    ['http://laravel.com', 'origin-star-laravel', false],
    ['https://www.laravel.com', 'origin-star-laravel', true],
    ['http://Laravel.com', 'origin-laravel', false],
    ['https://laravel.com', 'origin-scheme', false],
    ['null', 'origin-laravel', false],
  ];
  for (const [origin, key, ok] of originTable) {
    test(`5: Origin ${origin} vs ${JSON.stringify(ORIGIN_APPS.find((a) => a.key === key).allowed_origins)} → ${ok ? 'accept' : 'reject'}`, async () => {
      const c = await connect(key, { origin, expectEstablished: false });
      const first = await c.next();
      if (ok) {
        assert.match(first, /^\{"event":"pusher:connection_established"/);
      } else {
        assert.equal(first, ERR.originNotAllowed);
        assert.equal((await c.waitClosed()).code, 4009);
      }
      await closeAll();
    });
  }

  test('6: app B (max_connections 1): a second connection gets 4004 and is closed with 4004', async () => {
    await waitNoConnections(APP_B);
    const first = await connect(APP_B.key);
    await first.subscribeOk('test-channel');
    const second = await connect(APP_B.key, { expectEstablished: false });
    await second.expectFrame(ERR.overQuota);
    assert.equal((await second.waitClosed()).code, 4004);
    await closeAll();
  });
});

describe('subscribing (cases 7–17, 26)', () => {
  test('7: public channel → subscription_succeeded', async () => {
    const c = await connect();
    c.subscribe('test-channel');
    await c.expectFrame(succeeded('test-channel'));
    await closeAll();
  });

  test('8: private channel with a valid auth → subscription_succeeded', async () => {
    const c = await connect();
    c.subscribe('private-test-channel');
    await c.expectFrame(succeeded('private-test-channel'));
    await closeAll();
  });

  test('9: invalid or null auth → 4009 Connection is unauthorized, socket kept', async () => {
    const c = await connect();
    const cd = JSON.stringify({ user_id: 1, user_info: { name: 'Test User' } });
    for (const [channel, channelData] of [
      ['private-test-channel-9', undefined],
      ['presence-test-channel-9', cd],
      ['private-cache-test-channel-9', undefined],
      ['presence-cache-test-channel-9', cd],
    ]) {
      c.subscribe(channel, { auth: 'invalid-signature', channelData });
      await c.expectFrame(ERR.unauthorized);
      c.subscribe(channel, { auth: null, channelData });
      await c.expectFrame(ERR.unauthorized);
    }
    // Presence auth signed without the channel_data does not cover it.
    c.subscribe('presence-test-channel-9', { auth: channelAuth(APP_A, c.socketId, 'presence-test-channel-9').auth, channelData: cd });
    await c.expectFrame(ERR.unauthorized);
    // A signature for another socket id is refused.
    c.subscribe('private-test-channel-9', { auth: channelAuth(APP_A, '1.2', 'private-test-channel-9').auth });
    await c.expectFrame(ERR.unauthorized);
    // The key part of auth is not checked, only the signature after the first colon.
    c.subscribe('private-test-channel-9', { auth: `wrong-key:${channelAuth(APP_A, c.socketId, 'private-test-channel-9').auth.split(':')[1]}` });
    await c.expectFrame(succeeded('private-test-channel-9'));
    await closeAll();
  });

  test('10: presence channel → succeeded data with count, ids and hash', async () => {
    const c = await connect();
    c.subscribe('presence-test-channel', { channelData: '{"user_id":1,"user_info":{"name":"Test User"}}' });
    await c.expectFrame(succeeded('presence-test-channel', '{"presence":{"count":1,"ids":[1],"hash":{"1":{"name":"Test User"}}}}'));
    await closeAll();
  });

  test('11: the same user on two sockets counts once', async () => {
    const a = await connect();
    const b = await connect();
    const cd = '{"user_id":1,"user_info":{"name":"Test User"}}';
    await a.subscribeOk('presence-test-channel-11', { channelData: cd });
    b.subscribe('presence-test-channel-11', { channelData: cd });
    await b.expectFrame(succeeded('presence-test-channel-11', '{"presence":{"count":1,"ids":[1],"hash":{"1":{"name":"Test User"}}}}'));
    await a.expectNoFrame();
    await closeAll();
  });

  test('12: presence without channel_data → count 0, empty ids, hash []', async () => {
    const c = await connect();
    c.subscribe('presence-test-channel-12');
    await c.expectFrame(succeeded('presence-test-channel-12', '{"presence":{"count":0,"ids":[],"hash":[]}}'));
    await closeAll();
  });

  test('channel_data "" counts as absent; channel_data that is JSON but no object or list → 4200, not subscribed (as Reverb)', async () => {
    const c = await connect();
    const other = await connect();
    // "" is neither validated as JSON nor signed (a custom auth endpoint may return it).
    c.subscribe('private-cd-empty', { auth: channelAuth(APP_A, c.socketId, 'private-cd-empty').auth, channelData: '' });
    await c.expectFrame(succeeded('private-cd-empty'));
    c.subscribe('public-cd-empty', { channelData: '' });
    await c.expectFrame(succeeded('public-cd-empty'));
    c.subscribe('presence-cd-empty', { auth: channelAuth(APP_A, c.socketId, 'presence-cd-empty').auth, channelData: '' });
    await c.expectFrame(succeeded('presence-cd-empty', '{"presence":{"count":0,"ids":[],"hash":[]}}'));
    // Reverb stores the decoded channel_data, which must be an array: other values fail
    // after the signature check, whatever the channel type.
    for (const cd of ['5', 'null', '"x"', 'false', '1.5']) {
      c.subscribe('public-cd-scalar', { channelData: cd });
      await c.expectFrame(ERR.invalidFormat);
      c.subscribe('private-cd-scalar', { channelData: cd, auth: 'x:bad' });
      await c.expectFrame(ERR.unauthorized);
      c.subscribe('private-cd-scalar', { channelData: cd });
      await c.expectFrame(ERR.invalidFormat);
      c.subscribe('presence-cd-scalar', { channelData: cd });
      await c.expectFrame(ERR.invalidFormat);
    }
    // Not subscribed: no member_added for the scalar, broadcasts do not reach c.
    await other.subscribeOk('presence-cd-scalar', { channelData: { user_id: 'o', user_info: { n: 1 } } });
    const r = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels/presence-cd-scalar/users`);
    assert.deepStrictEqual(r.json, { users: [{ id: 'o' }] });
    await api(server, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: 'e', data: '{}', channels: ['public-cd-scalar', 'private-cd-scalar'] } });
    await c.expectNoFrame();
    await closeAll();
  });

  test('13 + 14: member_added to the others only, member_removed on disconnect', async () => {
    const ch = 'presence-test-channel';
    const users = [1, 2, 3].map((id) => ({ user_id: id, user_info: { name: id === 1 ? 'Test User' : `Test User ${id}` } }));
    const socks = [];
    for (const u of users) {
      const s = await connect();
      s.subscribe(ch, { channelData: JSON.stringify(u) });
      await s.expectFrame(succeeded(ch, presenceData(users.slice(0, socks.length + 1))));
      socks.push(s);
    }
    await socks[0].expectFrame(memberAdded(ch, '{"user_id":2,"user_info":{"name":"Test User 2"}}'));
    await socks[0].expectFrame(memberAdded(ch, users[2]));
    await socks[1].expectFrame(memberAdded(ch, users[2]));
    await socks[2].expectNoFrame();

    socks[2].close();
    await socks[0].expectFrame(memberRemoved(ch, 3));
    await socks[1].expectFrame(memberRemoved(ch, 3));
    assert.equal(memberRemoved(ch, 3), '{"event":"pusher_internal:member_removed","data":"{\\"user_id\\":3}","channel":"presence-test-channel"}');
    await closeAll();
  });

  test('a socket leaving several presence channels: member_removed in the channels\' creation order (as Reverb)', async () => {
    const names = [1, 2, 3, 4, 5, 6].map((i) => `presence-leave-order-${i}`);
    const observer = await connect();
    for (const ch of names) await observer.subscribeOk(ch, { channelData: { user_id: 'o', user_info: { n: 1 } } });
    const leaver = await connect();
    // Subscribed in another order than the channels were created in.
    for (const ch of [...names].reverse()) {
      await leaver.subscribeOk(ch, { channelData: { user_id: 'l', user_info: { n: 2 } } });
      await observer.expectFrame(memberAdded(ch, { user_id: 'l', user_info: { n: 2 } }));
    }
    leaver.close();
    for (const ch of names) await observer.expectFrame(memberRemoved(ch, 'l'));
    await closeAll();
  });

  test('15: a second socket of the same user adds no member; the first leaving removes none', async () => {
    const ch = 'presence-test-channel-15';
    const observer = await connect();
    await observer.subscribeOk(ch, { channelData: { user_id: 9, user_info: { name: 'Observer' } } });
    const one = await connect();
    const two = await connect();
    const u1 = { user_id: 1, user_info: { name: 'Test User' } };
    await one.subscribeOk(ch, { channelData: u1 });
    await observer.expectFrame(memberAdded(ch, u1));
    await two.subscribeOk(ch, { channelData: u1 });
    await observer.expectNoFrame();
    await one.expectNoFrame();

    one.unsubscribe(ch);
    await one.expectNoFrame(); // unsubscribe handled
    await observer.expectNoFrame();
    await two.expectNoFrame();

    two.unsubscribe(ch);
    await two.expectNoFrame();
    await observer.expectFrame(memberRemoved(ch, 1));
    await closeAll();
  });

  test('16: cache channels without a cached message → succeeded then cache_miss', async () => {
    const c = await connect();
    c.subscribe('cache-test-channel-16');
    await c.expectFrame(succeeded('cache-test-channel-16'));
    await c.expectFrame(cacheMiss('cache-test-channel-16'));
    c.subscribe('private-cache-test-channel-16');
    await c.expectFrame(succeeded('private-cache-test-channel-16'));
    await c.expectFrame(cacheMiss('private-cache-test-channel-16'));
    const cd = '{"user_id":1,"user_info":{"name":"Test User"}}';
    c.subscribe('presence-cache-test-channel-16', { channelData: cd });
    await c.expectFrame(succeeded('presence-cache-test-channel-16', '{"presence":{"count":1,"ids":[1],"hash":{"1":{"name":"Test User"}}}}'));
    await c.expectFrame(cacheMiss('presence-cache-test-channel-16'));
    await closeAll();
  });

  for (const ch of ['cache-test-channel', 'private-cache-test-channel', 'presence-cache-test-channel']) {
    test(`17: ${ch}: a later subscriber receives the last event after succeeded`, async () => {
      const cd = ch.startsWith('presence') ? { user_id: 1, user_info: { name: 'Test User' } } : undefined;
      const first = await connect();
      await first.subscribeOk(ch, { channelData: cd });
      await first.expectFrame(cacheMiss(ch));
      const r = await api(server, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: 'App\\Events\\TestEvent', data: '{"foo":"bar"}', channel: ch } });
      assert.equal(r.status, 200, r.text);
      const event = apiEvent(ch, 'App\\Events\\TestEvent', '{"foo":"bar"}');
      assert.equal(event, `{"event":"App\\\\Events\\\\TestEvent","data":"{\\"foo\\":\\"bar\\"}","channel":"${ch}"}`);
      await first.expectFrame(event);

      const later = await connect();
      const cd2 = cd && { user_id: 2, user_info: { name: 'Test User 2' } };
      await later.subscribeOk(ch, { channelData: cd2 });
      await later.expectFrame(event);
      await closeAll();
    });
  }

  test('26: subscribe to "" → succeeded without a channel key', async () => {
    const c = await connect();
    c.subscribe('');
    await c.expectFrame('{"event":"pusher_internal:subscription_succeeded","data":"{}"}');
    await closeAll();
  });
});

describe('subscribe details (§3.3–§3.5)', () => {
  test('an integer channel name is coerced to a string', async () => {
    const c = await connect();
    c.send('{"event":"pusher:subscribe","data":{"channel":123}}');
    await c.expectFrame(succeeded('123'));
    await closeAll();
  });

  test('subscribing again repeats subscription_succeeded (and cache_miss)', async () => {
    const c = await connect();
    await c.subscribeOk('test-channel-again');
    await c.subscribeOk('test-channel-again');
    c.subscribe('cache-again');
    await c.expectFrame(succeeded('cache-again'));
    await c.expectFrame(cacheMiss('cache-again'));
    c.subscribe('cache-again');
    await c.expectFrame(succeeded('cache-again'));
    await c.expectFrame(cacheMiss('cache-again'));
    const r = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels/test-channel-again`, { query: { info: 'subscription_count' } });
    assert.deepEqual(r.json, { occupied: true, subscription_count: 1 });
    await closeAll();
  });

  test('pusher:connection_established from the client re-sends connection_established', async () => {
    const c = await connect();
    c.send('{"event":"pusher:connection_established"}');
    await c.expectFrame(c.established);
    await closeAll();
  });

  test('pusher:pong is accepted silently', async () => {
    const c = await connect();
    c.send('{"event":"pusher:pong"}');
    await c.expectNoFrame();
    await closeAll();
  });

  test('presence with the single user id 0 → hash is a JSON list', async () => {
    const c = await connect();
    c.subscribe('presence-zero', { channelData: '{"user_id":0,"user_info":{"name":"Zero"}}' });
    await c.expectFrame(succeeded('presence-zero', '{"presence":{"count":1,"ids":[0],"hash":[{"name":"Zero"}]}}'));
    await closeAll();
  });

  test('presence channel_data is re-encoded whole in member_added (extra keys kept)', async () => {
    const a = await connect();
    const b = await connect();
    await a.subscribeOk('presence-extra', { channelData: { user_id: 1, user_info: { name: 'A' } } });
    await b.subscribeOk('presence-extra', { channelData: '{"user_id":2,"user_info":{"name":"B"},"extra":true}' });
    await a.expectFrame(memberAdded('presence-extra', '{"user_id":2,"user_info":{"name":"B"},"extra":true}'));
    await closeAll();
  });

  test('a client event on a cache channel becomes its cached message', async () => {
    const a = await connect();
    await a.subscribeOk('cache-whisper');
    await a.expectFrame(cacheMiss('cache-whisper'));
    a.send('{"event":"client-note","channel":"cache-whisper","data":{"n":1}}');
    await a.expectNoFrame();
    const b = await connect();
    await b.subscribeOk('cache-whisper');
    await b.expectFrame('{"event":"client-note","channel":"cache-whisper","data":{"n":1}}');
    await closeAll();
  });

  test('a failed auth leaves an empty channel: occupied false, subscription_count 0', async () => {
    const c = await connect();
    c.subscribe('private-failed-auth', { auth: 'x:bad' });
    await c.expectFrame(ERR.unauthorized);
    const r = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels/private-failed-auth`, { query: { info: 'subscription_count' } });
    assert.deepEqual(r.json, { occupied: false, subscription_count: 0 });
    await closeAll();
  });
});

describe('more protocol details', () => {
  test('a cache is lost when the channel empties; events to empty channels are not cached', async () => {
    const a = await connect();
    await a.subscribeOk('cache-lost');
    await a.expectFrame(cacheMiss('cache-lost'));
    let r = await api(server, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: 'E', data: '{}', channel: 'cache-lost' } });
    assert.equal(r.status, 200);
    await a.next();
    a.unsubscribe('cache-lost');
    await a.expectNoFrame();
    r = await api(server, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: 'E', data: '{}', channel: 'cache-lost' } });
    assert.equal(r.status, 200);
    await a.subscribeOk('cache-lost');
    await a.expectFrame(cacheMiss('cache-lost'));
    await closeAll();
  });

  test('presence: one member without user_id makes the list empty for the next joiner', async () => {
    const a = await connect();
    const b = await connect();
    await a.subscribeOk('presence-mixed', { channelData: '{"user_id":1,"user_info":{"name":"A"}}' });
    b.subscribe('presence-mixed');
    await b.expectFrame(succeeded('presence-mixed', '{"presence":{"count":0,"ids":[],"hash":[]}}'));
    await a.expectFrame(memberAdded('presence-mixed', '{}'));
    await closeAll();
  });

  test('a whisper on a presence channel carries the sender\'s user_id as stored', async () => {
    const a = await connect();
    const b = await connect();
    await a.subscribeOk('presence-whisper', { channelData: '{"user_id":7,"user_info":{"name":"A"}}' });
    await b.subscribeOk('presence-whisper', { channelData: '{"user_id":"8","user_info":{"name":"B"}}' });
    await a.next(); // member_added for 8
    a.send('{"event":"client-typing","channel":"presence-whisper","data":{"t":1}}');
    await b.expectFrame('{"event":"client-typing","channel":"presence-whisper","data":{"t":1},"user_id":7}');
    b.send('{"event":"client-typing","channel":"presence-whisper","data":{"t":2}}');
    await a.expectFrame('{"event":"client-typing","channel":"presence-whisper","data":{"t":2},"user_id":"8"}');
    await closeAll();
  });

  const pings = [
    ['data {}', '{"event":"pusher:ping","data":{}}', PONG],
    ['data ""', '{"event":"pusher:ping","data":""}', PONG],
    ['data "abc"', '{"event":"pusher:ping","data":"abc"}', ERR.invalidFormat],
    ['data "123" (decodes to a number)', '{"event":"pusher:ping","data":"123"}', ERR.invalidFormat],
  ];
  for (const [name, msg, reply] of pings) {
    test(`pusher:ping with ${name} → ${reply === PONG ? 'pong' : '4200'}`, async () => {
      const c = await connect();
      c.send(msg);
      await c.expectFrame(reply);
      await closeAll();
    });
  }
});

describe('PHP-JSON on the wire (§13.1)', () => {
  test('API event name and data string are re-encoded with PHP escaping', async () => {
    const c = await connect();
    await c.subscribeOk('php-json');
    const name = 'App\\Événement/Créé';
    const data = '{"url":"http://x/y","name":"Zoë 😀"}';
    const r = await api(server, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name, data, channel: 'php-json' } });
    assert.equal(r.status, 200, r.text);
    const expected = phpJson({ event: name, data, channel: 'php-json' });
    assert.ok(expected.includes('\\/') && expected.includes('\\u00c9'), expected);
    await c.expectFrame(expected);
    await closeAll();
  });

  test('presence channel_data numbers and strings re-encoded exactly as PHP does (php-cli oracle)', async (t) => {
    const cd = '{"user_id":3,"user_info":{"a":1.0,"b":1e25,"c":0.00001,"d":1e2,"e":-0.0,"f":12345678901234567890,"g":0.1,"h":1e16,"s":"\\u00e9\\/<>&\'\\u2028","z":{}}}';
    let expected;
    try {
      expected = execFileSync('php', ['-r', 'echo json_encode(json_decode($argv[1], true));', cd]).toString();
    } catch (err) {
      if (err.code === 'ENOENT') return t.skip('php not installed');
      throw err;
    }
    const a = await connect();
    const b = await connect();
    await a.subscribeOk('presence-numbers', { channelData: '{"user_id":1}' });
    await b.subscribeOk('presence-numbers', { channelData: cd });
    await a.expectFrame(phpJson({ event: 'pusher_internal:member_added', data: expected, channel: 'presence-numbers' }));
    await closeAll();
  });

  test('presence channel_data is re-encoded with PHP escaping in member_added and succeeded', async () => {
    const a = await connect();
    const b = await connect();
    await a.subscribeOk('presence-php-json', { channelData: '{"user_id":"1","user_info":{"name":"A"}}' });
    const cd = '{"user_id":"2","user_info":{"name":"Zoë","site":"https://z.example/"}}';
    b.subscribe('presence-php-json', { channelData: cd });
    const info2 = { name: 'Zoë', site: 'https://z.example/' };
    const data = `{"presence":{"count":2,"ids":["1","2"],"hash":{"1":{"name":"A"},"2":${phpJson(info2)}}}}`;
    await b.expectFrame(phpJson({ event: 'pusher_internal:subscription_succeeded', data, channel: 'presence-php-json' }));
    await a.expectFrame(phpJson({ event: 'pusher_internal:member_added', data: phpJson(JSON.parse(cd)), channel: 'presence-php-json' }));
    await closeAll();
  });
});

describe('events (cases 18–24)', () => {
  test('18: an API event reaches every subscriber', async () => {
    const socks = [await connect(), await connect(), await connect()];
    for (const s of socks) await s.subscribeOk('test-channel-18');
    const r = await api(server, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: 'App\\Events\\TestEvent', data: '{"foo":"bar"}', channel: 'test-channel-18' } });
    assert.equal(r.status, 200, r.text);
    for (const s of socks) await s.expectFrame(apiEvent('test-channel-18', 'App\\Events\\TestEvent', '{"foo":"bar"}'));
    await closeAll();
  });

  test('19: pusher:ping → pusher:pong', async () => {
    const c = await connect();
    c.send('{"event":"pusher:ping"}');
    await c.expectFrame(PONG);
    await closeAll();
  });

  test('20: whisper on a public channel reaches the others, not the sender', async () => {
    const a = await connect();
    const b = await connect();
    await a.subscribeOk('test-channel');
    await b.subscribeOk('test-channel');
    a.send('{"event":"client-start-typing","channel":"test-channel","data":{"id":123,"name":"Joe Dixon"}}');
    await b.expectFrame('{"event":"client-start-typing","channel":"test-channel","data":{"id":123,"name":"Joe Dixon"}}');
    await a.expectNoFrame();
    await closeAll();
  });

  test('21: whisper from a member with user_id "1" carries user_id', async () => {
    const a = await connect();
    const b = await connect();
    await a.subscribeOk('private-test-channel-21', { channelData: '{"user_id":"1"}' });
    await b.subscribeOk('private-test-channel-21');
    a.send('{"event":"client-foo","channel":"private-test-channel-21","data":{"foo":"bar"}}');
    await b.expectFrame('{"event":"client-foo","channel":"private-test-channel-21","data":{"foo":"bar"},"user_id":"1"}');
    await a.expectNoFrame();
    await closeAll();
  });

  test('22: whisper to a channel the sender is not subscribed to → 4009 not a member', async () => {
    const a = await connect();
    const b = await connect();
    await b.subscribeOk('test-channel-22');
    a.send('{"event":"client-foo","channel":"test-channel-22","data":{"foo":"bar"}}');
    await a.expectFrame(ERR.notMember);
    await b.expectNoFrame();
    a.send('{"event":"client-foo","channel":"no-such-channel-22","data":{"foo":"bar"}}');
    await a.expectFrame(ERR.notMember);
    await closeAll();
  });

  test('23: accept_client_events_from none → 4301 client messaging disabled', async () => {
    const a = await connect(APP_NONE.key);
    await a.subscribeOk('test-channel');
    a.send('{"event":"client-foo","channel":"test-channel","data":{"foo":"bar"}}');
    await a.expectFrame(ERR.clientEventsDisabled);
    await closeAll();
  });

  test('23b: accept_client_events_from all → relayed without membership', async () => {
    const a = await connect(APP_ALL.key);
    const b = await connect(APP_ALL.key);
    await b.subscribeOk('test-channel-23');
    a.send('{"event":"client-foo","channel":"test-channel-23","data":{"foo":"bar"}}');
    const got = JSON.parse(await b.next());
    assert.deepEqual(got, { event: 'client-foo', channel: 'test-channel-23', data: { foo: 'bar' } });
    await a.expectNoFrame();
    await closeAll();
  });

  test('23c: accept_client_events_from all → the message is relayed whole, extra keys and key order kept', async () => {
    const a = await connect(APP_ALL.key);
    const b = await connect(APP_ALL.key);
    await a.subscribeOk('test-channel-23c');
    await b.subscribeOk('test-channel-23c');
    const msg = '{"channel":"test-channel-23c","event":"client-foo","data":{"k":1},"extra":"y"}';
    a.send(msg);
    await b.expectFrame(msg);
    await a.expectNoFrame();
    await closeAll();
  });

  test('24: whisper without data → data null; an event without client- prefix is ignored', async () => {
    const a = await connect();
    const b = await connect();
    await a.subscribeOk('test-channel-24');
    await b.subscribeOk('test-channel-24');
    a.send('{"event":"client-foo","channel":"test-channel-24"}');
    await b.expectFrame('{"event":"client-foo","channel":"test-channel-24","data":null}');
    a.send('{"event":"test-message","channel":"test-channel-24","data":{"foo":"bar"}}');
    await a.expectNoFrame();
    await b.expectNoFrame();
    await closeAll();
  });
});

describe('malformed input (case 25)', () => {
  const inputs = [
    ['text Hi', 'Hi'],
    ['event is an array', '{"event":[]}'],
    ['subscribe data is a plain string', '{"event":"pusher:subscribe","data":"sfsfsfs"}'],
    ['subscribe channel []', '{"event":"pusher:subscribe","data":{"channel":[]}}'],
    ['subscribe channel null', '{"event":"pusher:subscribe","data":{"channel":null}}'],
    ['subscribe auth []', '{"event":"pusher:subscribe","data":{"channel":"private-test-channel-25","auth":[]}}'],
    ['subscribe channel_data []', '{"event":"pusher:subscribe","data":{"channel":"presence-test-channel-25","auth":"x:y","channel_data":[]}}'],
    ['subscribe channel_data "Hello"', '{"event":"pusher:subscribe","data":{"channel":"presence-test-channel-25","auth":"x:y","channel_data":"Hello"}}'],
    ['client event channel []', '{"event":"client-foo","channel":[],"data":{}}'],
    ['unknown pusher event', '{"event":"pusher:unknown"}'],
    ['event without channel', '{"event":"hello"}'],
    ['whisper with plain-text data', '{"event":"client-foo","channel":"test-channel-25","data":"plain text"}'],
    ['JSON array', '[1,2,3]'],
    ['invalid JSON', '{"event":'],
    ['empty event', '{"event":""}'],
  ];
  for (const [name, input] of inputs) {
    test(`25: ${name} → 4200 and the socket keeps working`, async () => {
      const c = await connect();
      await c.subscribeOk('test-channel-25');
      c.send(input);
      await c.expectFrame(ERR.invalidFormat);
      c.send('{"event":"pusher:ping"}');
      await c.expectFrame(PONG);
      await closeAll();
    });
  }
});

describe('message size (case 27)', () => {
  test('27: app C (max 1 byte) closes with 1009 Maximum message size exceeded', async () => {
    const c = await connect(APP_C.key, { origin: 'http://laravel.com' });
    c.send('{"event":"pusher:ping"}');
    const closed = await c.waitClosed();
    assert.deepEqual(closed, { code: 1009, reason: 'Maximum message size exceeded' });
  });

  test('27: app A closes a subscribe above 10 000 bytes with 1009', async () => {
    const c = await connect();
    c.subscribe('test-channel-27', { channelData: JSON.stringify({ user_id: 1, user_info: { pad: 'x'.repeat(10100) } }) });
    const closed = await c.waitClosed();
    assert.deepEqual(closed, { code: 1009, reason: 'Maximum message size exceeded' });
  });

  test('27: app B accepts a 20 000+ byte subscribe', async () => {
    await waitNoConnections(APP_B);
    const c = await connect(APP_B.key);
    const data = await c.subscribeOk('test-channel-27b', { channelData: JSON.stringify({ user_id: 1, user_info: { pad: 'x'.repeat(20100) } }) });
    assert.deepEqual(data, {});
    await closeAll();
  });
});

describe('unsubscribe and control frames (cases 28–29)', () => {
  test('28: unsubscribing the last subscriber removes the channel; no reply', async () => {
    const c = await connect();
    await c.subscribeOk('test-channel-28');
    let r = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels/test-channel-28`);
    assert.deepEqual(r.json, { occupied: true });
    c.unsubscribe('test-channel-28');
    await c.expectNoFrame();
    r = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels/test-channel-28`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { occupied: false });
    r = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels`);
    assert.equal(r.status, 200);
    assert.ok(!JSON.stringify(r.json).includes('test-channel-28'), r.text);
    await closeAll();
  });

  test('29: ping frame → pong frame with the same payload; pong frame → no reply', async () => {
    const c = await connect();
    c.ping('hello');
    const pong = await c.nextControl('pong');
    assert.equal(pong.data, 'hello');
    c.pong('unsolicited');
    await c.expectNoFrame();
    assert.deepEqual(c.controlFrames, []);
    await closeAll();
  });
});

describe('rate limiting (case 31)', () => {
  test('31: the 4th message in the window → 4301, socket stays open, window reopens', async () => {
    const c = await connect(APP_RL.key);
    for (let i = 0; i < 3; i++) c.send('{"event":"pusher:ping"}');
    c.send('{"event":"pusher:ping"}');
    for (let i = 0; i < 3; i++) await c.expectFrame(PONG);
    await c.expectFrame(ERR.rateLimited);
    // The window is decay_seconds (1 s) long: poll until a message is accepted again.
    await waitFor(async () => {
      c.send('{"event":"pusher:ping"}');
      const f = await c.next();
      if (f === PONG) return true;
      assert.equal(f, ERR.rateLimited);
      await new Promise((r) => setTimeout(r, 200));
      return false;
    }, { timeout: 3000, message: 'the rate limit window to reopen' });
    assert.equal(c.closeInfo, undefined);
    await closeAll();
  });

  test('31: with terminate_on_limit the socket is closed', async () => {
    const c = await connect(APP_RLT.key);
    for (let i = 0; i < 4; i++) c.send('{"event":"pusher:ping"}');
    for (let i = 0; i < 3; i++) await c.expectFrame(PONG);
    // Spec §3.8 leaves it open; docs/compatibility.md: the 4301 frame, then a close frame 4301.
    await c.expectFrame(ERR.rateLimited);
    assert.equal((await c.waitClosed()).code, 4301);
  });
});
