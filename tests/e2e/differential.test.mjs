// Differential test of the Pusher WebSocket protocol against PHP Reverb 1.10.2 as
// the oracle. A seeded generator writes a script of client messages for a few raw
// WebSocket clients at once (subscribes and unsubscribes on every channel type, with
// valid and invalid auth and channel_data; client events, also to channels not
// subscribed; pings, unknown events, malformed JSON, wrong field types; reconnects;
// HTTP API triggers with and without socket_id). The same script is played against
// `php artisan reverb:start` in an unpacked copy of the Laravel test app and against
// this server with the same app, in lock-step: after each step every client passes a
// ping/pong barrier and the servers go quiet. Then each client's frames of that step
// are compared as parsed JSON (clients read them so), socket ids replaced by their
// order of appearance.
//
// Extra seeds, for hunting: REVERB_E2E_DIFF_SEEDS=1,2,3 (or a range 100-199) and
// REVERB_E2E_DIFF_STEPS=120. REVERB_E2E_DIFF_PORT=N uses ports N (PHP) and N+1.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { RawClient, api, signChannel, stopAll } from './lib/harness.mjs';
import { ENV_APP, laravelMissing } from './lib/laravel-app.mjs';
import { LockStep, canonical, genScript, resubscribeMemberRemoved, seedList, staleCachedMemberRemoved, startPair } from './lib/differential.mjs';

const missing = laravelMissing({ bins: ['php', 'tar'] });
const SEEDS = seedList('REVERB_E2E_DIFF_SEEDS', [1, 2, 3, 4, 5, 6]);
const STEPS = Number(process.env.REVERB_E2E_DIFF_STEPS || 40);
const CLIENTS = 3;

// ---------------------------------------------------------------------------
// The two servers.

const app = { ...ENV_APP };
let pair;
let php;
let go;

before(async () => {
  if (missing) return;
  pair = await startPair('reverb-e2e-diff-', 'REVERB_E2E_DIFF_PORT', [app]);
  ({ php, go } = pair);
  // docs/compatibility.md §1 (multi-app: Reverb's client-event membership check may use
  // the wrong app's registry): Reverb looks the channel up in whichever app its channel
  // manager last served, none on a fresh server, where every client event answers 4200
  // until someone subscribes or unsubscribes. One subscribe first, on both.
  for (const s of [php, go]) {
    const c = await RawClient.connect(s, app.key);
    await c.subscribeOk('warm-up');
    c.close(1000);
    await c.closed;
  }
}, { timeout: 120000 });

after(async () => {
  await stopAll();
  if (pair) await pair.stop();
});

// ---------------------------------------------------------------------------
// The script generator (genScript: the same seed gives the same script everywhere).

const CHANNELS = [
  'news', 'private-a', 'presence-a', 'private-encrypted-a', 'cache-a', 'private-cache-a', 'presence-cache-a',
  'presence-b',
];
// docs/compatibility.md §1: Reverb answers 4200 to a presence subscriber whose
// channel_data has no user_info (we subscribe it with a null user_info): every
// channel_data here carries one.
const USERS = [
  { user_id: '1', user_info: { name: 'Ann' } },
  { user_id: '2', user_info: { name: 'Bob' } },
  { user_id: 3, user_info: 'three' },
  { user_id: '4', user_info: [] },
];

// Client-event data. docs/compatibility.md §1: our server relays client-event data exactly
// as sent, where PHP re-encodes it ({} becomes [], floats are reformatted): the script
// sends no empty objects and no floats.
const CLIENT_DATA = [
  { text: 'hi' }, { n: 1, list: [1, 2] }, 'plain', '{"a":1}', null, [1, 'x'], { nested: { k: 'v' } }, 7, true, '',
  ' \t', '[]',
];

const needsAuth = (ch) => ch.startsWith('private') || ch.startsWith('presence');

// Ops are abstract: whatever depends on the server (socket ids, signatures) is filled in
// when played.
function genOp(r) {
  const c = r.int(CLIENTS);
  const ch = r.pick(CHANNELS);
  const roll = r.int(100);
  if (roll < 28) {
    // A subscribe, valid most of the time.
    const user = r.pick(USERS);
    const kind = r.chance(0.7) ? 'valid' : r.pick(['badsig', 'noauth', 'otherSocket', 'authNumber', 'noData', 'dataNotJson', 'dataNoUser', 'dataObject', 'dataNumberUser', 'keyOnly', 'emptyAuth']);
    return { op: 'subscribe', c, ch, user, kind };
  }
  if (roll < 40) return { op: 'unsubscribe', c, ch: r.chance(0.85) ? ch : 'unknown-channel' };
  if (roll < 60) {
    const ev = r.chance(0.85) ? r.pick(['client-typing', 'client-x']) : r.pick(['typing', 'pusher_internal:x', 'client-']);
    return { op: 'client', c, ch: r.chance(0.9) ? ch : 'nowhere', ev, data: r.pick(CLIENT_DATA), dataForm: r.pick(['value', 'value', 'string', 'omit']) };
  }
  if (roll < 64) return { op: 'ping', c, data: r.pick([undefined, {}, 'x']) };
  if (roll < 70) return { op: 'raw', c, text: r.pick(['{', 'null', '[]', '"str"', '123', '{}', '{"event":1}', '{"event":null}', '{"event":"pusher:unknown"}', '{"event":"bogus"}', '{"event":"pusher:subscribe"}', '{"event":"pusher:subscribe","data":{}}', '{"event":"pusher:subscribe","data":{"channel":5}}', '{"event":"pusher:subscribe","data":"news"}', '{"event":"pusher:unsubscribe"}', '{"event":"pusher:unsubscribe","data":{"channel":["x"]}}', '{"event":"pusher:subscribe","data":{"channel":"news","auth":5}}', '{"event":"pusher:pong"}', '{"event":"pusher:ping","data":5}', '{"event":"client-a","channel":5,"data":{}}', '{"event":"client-a","channel":"news","data":"x"}', '{"event":"client-a","data":{"x":1}}', '{"event":"pusher:subscribe","data":"{\\"channel\\":\\"news\\"}"}', '{"event":"  "}', '{"event":"client-x","channel":" ","data":{"a":1}}', '{"event":"pusher:subscribe","data":{"channel":"news","channel_data":"  "}}', '{"event":"pusher:subscribe","data":{"channel":"presence-a","channel_data":""}}']) };
  if (roll < 74) return { op: 'reconnect', c };
  if (roll < 90) {
    const chans = r.chance(0.8) ? [ch] : [ch, r.pick(CHANNELS)].filter((x, i, a) => a.indexOf(x) === i);
    return { op: 'trigger', chans, name: r.pick(['App\\Events\\Sent', 'evt', 'client-from-api']), data: r.pick(['{"m":1}', 'text', '{}', '[]', '"q"']), except: r.chance(0.4) ? r.int(CLIENTS) : undefined };
  }
  // docs/compatibility.md §1: Reverb answers 500 to a batch item whose socket_id names a
  // subscribed connection (we send it to the others): batch items carry no socket_id.
  return { op: 'batch', items: [0, 1].map(() => ({ channel: r.pick(CHANNELS), name: 'b', data: r.pick(['{"i":1}', 'z']) })) };
}

// ---------------------------------------------------------------------------
// Playing a script on one server.

class Run extends LockStep {
  async start() {
    for (let i = 0; i < CLIENTS; i++) await this.connect(i, app.key);
  }

  sid(i) { return this.clients[i]?.socketId; }

  subscribeMessage(i, { ch, user, kind }) {
    const socketId = this.sid(i);
    const data = { channel: ch };
    const presence = ch.startsWith('presence');
    let channelData = presence ? JSON.stringify(user) : undefined;
    if (kind === 'noData') channelData = undefined;
    if (kind === 'dataNotJson') channelData = 'not json';
    if (kind === 'dataNoUser') channelData = JSON.stringify({ user_info: { name: 'x' } });
    if (kind === 'dataNumberUser') channelData = JSON.stringify({ user_id: 42, user_info: null });
    if (channelData !== undefined) data.channel_data = channelData;
    if (kind === 'dataObject') data.channel_data = user;
    const sig = signChannel(app.secret, socketId, ch, kind === 'dataObject' ? JSON.stringify(user) : channelData);
    if (needsAuth(ch) || kind !== 'valid') {
      if (kind === 'badsig') data.auth = `${app.key}:${'0'.repeat(64)}`;
      else if (kind === 'otherSocket') data.auth = `${app.key}:${signChannel(app.secret, '1234.5678', ch, channelData)}`;
      else if (kind === 'authNumber') data.auth = 12345;
      else if (kind === 'keyOnly') data.auth = sig;
      else if (kind === 'emptyAuth') data.auth = '';
      else if (kind !== 'noauth') data.auth = `${app.key}:${sig}`;
    }
    return { event: 'pusher:subscribe', data };
  }

  async play(op) {
    const c = this.clients[op.c];
    switch (op.op) {
      case 'subscribe':
        if (c.closeInfo) return;
        c.send(this.subscribeMessage(op.c, op));
        return;
      case 'unsubscribe':
        if (c.closeInfo) return;
        c.send({ event: 'pusher:unsubscribe', data: { channel: op.ch } });
        return;
      case 'client': {
        if (c.closeInfo) return;
        const msg = { event: op.ev, channel: op.ch };
        if (op.dataForm === 'value') msg.data = op.data;
        if (op.dataForm === 'string') msg.data = JSON.stringify(op.data);
        c.send(msg);
        return;
      }
      case 'ping':
        if (c.closeInfo) return;
        c.send(op.data === undefined ? { event: 'pusher:ping' } : { event: 'pusher:ping', data: op.data });
        return;
      case 'raw':
        if (c.closeInfo) return;
        c.send(op.text);
        return;
      case 'reconnect':
        if (!c.closeInfo) {
          c.close(1000);
          await c.closed;
        }
        await this.connect(op.c, app.key);
        return;
      case 'trigger': {
        const body = { name: op.name, data: op.data };
        if (op.chans.length === 1) body.channel = op.chans[0];
        else body.channels = op.chans;
        if (op.except !== undefined) body.socket_id = this.sid(op.except);
        const res = await api(this.server, app, 'POST', `/apps/${app.id}/events`, { body });
        return `${res.status} ${this.normalise(res.text)}`;
      }
      case 'batch': {
        const batch = op.items.map((it) => {
          return { channel: it.channel, name: it.name, data: it.data };
        });
        const res = await api(this.server, app, 'POST', `/apps/${app.id}/batch_events`, { body: { batch } });
        return `${res.status} ${this.normalise(res.text)}`;
      }
      default:
        throw new Error(`unknown op ${op.op}`);
    }
  }

  // A ping in the script itself (without a string as data: 4200) means one more pong.
  quiesce(op) {
    return this.settle({ want: (i) => (op.op === 'ping' && op.c === i && typeof op.data !== 'string' ? 2 : 1) });
  }
}

async function differential(seed) {
  const script = genScript(seed, STEPS, genOp);
  const a = new Run(php);
  const b = new Run(go);
  await Promise.all([a.start(), b.start()]);
  const history = [];
  try {
    for (let step = 0; step < script.length; step++) {
      const op = script[step];
      const [ra, rb] = await Promise.all([a.play(op), b.play(op)]);
      await Promise.all([a.quiesce(op), b.quiesce(op)]);
      const fa = a.take();
      const fb = b.take();
      history.push(`#${step} ${JSON.stringify(op)}${ra ? ` -> php ${ra} / go ${rb}` : ''}`);
      if (ra !== rb) {
        assert.fail(`seed ${seed} step ${step}: HTTP answers differ\n  php: ${ra}\n  go:  ${rb}\nscript so far:\n${history.slice(-12).join('\n')}`);
      }
      for (let i = 0; i < CLIENTS; i++) {
        const [na, nb] = staleCachedMemberRemoved(fa[i], resubscribeMemberRemoved(op.op === 'subscribe' && op.ch, fa[i], fb[i]));
        const ca = na.map(canonical);
        const cb = nb.map(canonical);
        if (JSON.stringify(ca) !== JSON.stringify(cb)) {
          assert.fail(`seed ${seed} step ${step}: client ${i} received different frames\n  php: ${JSON.stringify(fa[i])}\n  go:  ${JSON.stringify(fb[i])}\nscript so far:\n${history.slice(-12).join('\n')}`);
        }
        if (fa[i].length) history.push(`   c${i}: ${fa[i].join(' ')}`);
      }
    }
  } finally {
    await Promise.all([a.end(), b.end()]);
  }
}

for (const seed of SEEDS) {
  test(`differential against PHP Reverb: seed ${seed}`, { skip: missing || false, timeout: 60000 }, async () => {
    await differential(seed);
  });
}
