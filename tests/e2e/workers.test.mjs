// The protocol with `--workers 2`: sockets land on either worker (shared listening socket), and
// the README decision says presence and counts are cluster-wide: member_added / member_removed
// once per user, users/connections/channels aggregated, terminate and toOthers across workers.
// Nothing here tells which worker a socket is on, so every check holds whatever the spread.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { APP_A, APP_B, RawClient, api, defaultApps, startServer, waitFor } from './lib/harness.mjs';
import { apiEvent, memberAdded, memberRemoved } from './lib/frames.mjs';

let server;
const clients = [];

before(async () => {
  server = await startServer({ apps: defaultApps(), workers: 2 });
});

after(async () => {
  await server?.stop();
});

async function connect(key = APP_A.key) {
  const c = await RawClient.connect(server, key);
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

/** Reads frames until `until` (exact) arrives; returns the frames before it. */
async function readUntil(c, until, timeout = 5000) {
  const seen = [];
  for (;;) {
    const f = await c.next(timeout);
    if (f === until) return seen;
    seen.push(f);
  }
}

const EV = 'App\\Events\\TestEvent';

describe('two workers', () => {
  test('presence: member_added and member_removed once per user; users, counts, terminate cluster-wide', async () => {
    const ch = 'presence-mw';
    const observer = await connect();
    await observer.subscribeOk(ch, { channelData: { user_id: 100, user_info: { name: 'Observer' } } });
    const socks = [];
    for (let i = 0; i < 12; i++) {
      const s = await connect();
      const uid = (i % 6) + 1;
      const data = await s.subscribeOk(ch, { channelData: { user_id: uid, user_info: { name: `U${uid}` } } });
      assert.equal(data.presence.count, Math.min(i + 1, 6) + 1, `count seen by joiner ${i}: ${JSON.stringify(data)}`);
      socks.push({ s, uid });
    }
    // A marker event after all joins: everything before it on the observer is presence traffic.
    let r = await api(server, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: EV, data: '{"marker":1}', channel: ch } });
    assert.equal(r.status, 200);
    const before = await readUntil(observer, apiEvent(ch, EV, '{"marker":1}'));
    assert.deepEqual(before, [1, 2, 3, 4, 5, 6].map((uid) => memberAdded(ch, { user_id: uid, user_info: { name: `U${uid}` } })));
    for (const { s } of socks) {
      // Joiners first see member_added of users who joined after them.
      const seen = await readUntil(s, apiEvent(ch, EV, '{"marker":1}'));
      assert.ok(seen.every((f) => f.startsWith('{"event":"pusher_internal:member_added"')), JSON.stringify(seen));
    }

    r = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels/${ch}/users`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.users.map((u) => u.id).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 100]);
    r = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels/${ch}`, { query: { info: 'user_count' } });
    assert.deepEqual(r.json, { occupied: true, user_count: 7 });
    const t0 = performance.now();
    r = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/connections`);
    assert.deepEqual(r.json, { connections: 13 });
    // README decision: gathering ends when every node answered (upstream waits up to 10 s).
    assert.ok(performance.now() - t0 < 2000, `/connections took ${Math.round(performance.now() - t0)} ms`);

    // Both sockets of user 1 leave: exactly one member_removed.
    for (const { s } of socks.filter((x) => x.uid === 1)) {
      s.close();
      await s.waitClosed();
    }
    r = await api(server, APP_A, 'POST', `/apps/${APP_A.id}/users/2/terminate_connections`, { body: {} });
    assert.equal(r.status, 200, r.text);
    for (const { s } of socks.filter((x) => x.uid === 2)) assert.equal((await s.waitClosed()).code, 4009);
    r = await api(server, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: EV, data: '{"marker":2}', channel: ch } });
    const removed = await readUntil(observer, apiEvent(ch, EV, '{"marker":2}'));
    assert.deepEqual(removed.sort(), [memberRemoved(ch, 1), memberRemoved(ch, 2)].sort());
    r = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels/${ch}`, { query: { info: 'user_count' } });
    assert.deepEqual(r.json, { occupied: true, user_count: 5 });
    await closeAll();
  });

  test('API events, client events and toOthers reach every worker', async () => {
    const socks = [];
    for (let i = 0; i < 8; i++) {
      const s = await connect();
      await s.subscribeOk('mw-public');
      socks.push(s);
    }
    const [sender, ...others] = socks;
    sender.send('{"event":"client-hello","channel":"mw-public","data":{"from":"sender"}}');
    for (const o of others) await o.expectFrame('{"event":"client-hello","channel":"mw-public","data":{"from":"sender"}}');

    let r = await api(server, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: EV, data: '{"n":1}', channel: 'mw-public', socket_id: sender.socketId } });
    assert.equal(r.status, 200);
    r = await api(server, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: EV, data: '{"n":2}', channel: 'mw-public' } });
    for (const o of others) {
      await o.expectFrame(apiEvent('mw-public', EV, '{"n":1}'));
      await o.expectFrame(apiEvent('mw-public', EV, '{"n":2}'));
    }
    // The sender got neither its whisper nor the event it was excluded from.
    await sender.expectFrame(apiEvent('mw-public', EV, '{"n":2}'));

    r = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels`, { query: { filter_by_prefix: 'mw-', info: 'subscription_count' } });
    assert.deepEqual(r.json, { channels: { 'mw-public': { subscription_count: 8 } } });
    await closeAll();
  });

  test('max_connections counts sockets on both workers', async () => {
    await waitFor(async () => (await api(server, APP_B, 'GET', `/apps/${APP_B.id}/connections`)).json?.connections === 0);
    const first = await connect(APP_B.key);
    await first.subscribeOk('test-channel');
    // Another worker may learn about the first socket a moment later (heartbeat): retry until refused.
    await waitFor(async () => {
      const c = await RawClient.connect(server, APP_B.key, { expectEstablished: false });
      const f = await c.next();
      if (/connection_established/.test(f)) {
        c.close();
        await c.waitClosed();
        return false;
      }
      assert.equal(f, '{"event":"pusher:error","data":"{\\"code\\":4004,\\"message\\":\\"Application is over connection quota\\"}"}');
      assert.equal((await c.waitClosed()).code, 4004);
      return true;
    }, { timeout: 5000, interval: 100, message: 'a 4004 on the second connection' });
    await closeAll();
  });

  test('presence churn across workers: the observer\'s view stays consistent and nothing leaks', async () => {
    const ch = 'presence-churn';
    const observer = await connect();
    await observer.subscribeOk(ch, { channelData: { user_id: 0, user_info: { name: 'Observer' } } });
    await Promise.all(Array.from({ length: 30 }, async (_, i) => {
      const uid = i + 1;
      const c = await RawClient.connect(server, APP_A.key);
      const cd = { user_id: uid, user_info: { name: `U${uid}` } };
      const succeededHere = (f) => f.startsWith('{"event":"pusher_internal:subscription_succeeded"');
      c.subscribe(ch, { channelData: cd });
      await c.nextWhere(succeededHere);
      c.unsubscribe(ch);
      c.subscribe(ch, { channelData: cd });
      await c.nextWhere(succeededHere);
      c.close();
      await c.waitClosed();
    }));
    await waitFor(async () => {
      const r = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels/${ch}/users`);
      return r.json?.users?.length === 1;
    }, { timeout: 5000, message: 'only the observer left in the channel' });
    const r = await api(server, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: EV, data: '{"marker":3}', channel: ch } });
    assert.equal(r.status, 200);
    const frames = (await readUntil(observer, apiEvent(ch, EV, '{"marker":3}'))).map((f) => JSON.parse(f));
    const perUser = new Map();
    for (const f of frames) {
      const { user_id: uid } = JSON.parse(f.data);
      const kind = f.event === 'pusher_internal:member_added' ? '+' : f.event === 'pusher_internal:member_removed' ? '-' : '?';
      perUser.set(uid, (perUser.get(uid) ?? '') + kind);
    }
    assert.equal(perUser.size, 30, JSON.stringify([...perUser]));
    for (const [uid, seq] of perUser) assert.match(seq, /^(\+-)+$/, `user ${uid}: ${seq}`);
    const users = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels/${ch}/users`);
    assert.deepEqual(users.json, { users: [{ id: 0 }] });
    await closeAll();
    await waitFor(async () => (await api(server, APP_A, 'GET', `/apps/${APP_A.id}/connections`)).json?.connections === 0, { message: 'no connections left' });
    const chans = await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels`);
    assert.deepEqual(chans.json, { channels: [] });
  });

  test('the same user joining on two sockets at once (likely two workers): one member_added, one member_removed', async () => {
    const ch = 'presence-twins';
    const observer = await connect();
    await observer.subscribeOk(ch, { channelData: { user_id: 0, user_info: { name: 'Observer' } } });
    const succeededHere = (f) => f.startsWith('{"event":"pusher_internal:subscription_succeeded"');
    await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      const cd = { user_id: i + 1, user_info: { name: `U${i + 1}` } };
      const pair = await Promise.all([RawClient.connect(server, APP_A.key), RawClient.connect(server, APP_A.key)]);
      for (const c of pair) c.subscribe(ch, { channelData: cd });
      await Promise.all(pair.map((c) => c.nextWhere(succeededHere)));
      for (const c of pair) c.close();
      await Promise.all(pair.map((c) => c.waitClosed()));
    }));
    await waitFor(async () => (await api(server, APP_A, 'GET', `/apps/${APP_A.id}/channels/${ch}/users`)).json?.users?.length === 1,
      { timeout: 5000, message: 'only the observer left' });
    const r = await api(server, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: EV, data: '{"marker":4}', channel: ch } });
    assert.equal(r.status, 200);
    const frames = (await readUntil(observer, apiEvent(ch, EV, '{"marker":4}'))).map((f) => JSON.parse(f));
    const perUser = new Map();
    for (const f of frames) {
      const { user_id: uid } = JSON.parse(f.data);
      perUser.set(uid, (perUser.get(uid) ?? '') + (f.event === 'pusher_internal:member_added' ? '+' : '-'));
    }
    assert.equal(perUser.size, 20);
    for (const [uid, seq] of perUser) assert.equal(seq, '+-', `user ${uid}`);
    await closeAll();
  });
});
