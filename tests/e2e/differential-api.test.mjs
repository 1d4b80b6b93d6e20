// Differential test of the Pusher HTTP API against PHP Reverb 1.10.2 as the oracle.
// A seeded generator writes a script of raw HTTP requests to the API routes
// (/apps/{id}/events, batch_events, connections, channels, channels/{c},
// channels/{c}/users, users/{id}/terminate_connections, /up, unknown paths): valid and
// invalid signatures, auth_* and body_md5 variants, missing, extra, duplicated and
// array query parameters, odd keys, method case, wrong methods, trailing slashes,
// percent-encoding, fragments, empty, malformed, mistyped and oversized JSON bodies,
// info=user_count,subscription_count on every channel type. A few raw WebSocket
// clients stay subscribed meanwhile (presence members, public, private and cache
// channels), so counts are not trivial, and script steps also subscribe and
// unsubscribe them. The same script is played against `php artisan reverb:start` in
// an unpacked copy of the Laravel test app and against this server with the same app,
// in lock-step; each answer is compared (status, body as parsed JSON or text, the
// Allow header, the Content-Type of JSON answers), then what every client received
// during the step (parsed JSON, socket ids by order of appearance). The deliberate
// differences of docs/compatibility.md are normalised, each citing the doc.
//
// Extra seeds, for hunting: REVERB_E2E_DIFF_API_SEEDS=1,2,3 (or a range 100-199) and
// REVERB_E2E_DIFF_API_STEPS=150. REVERB_E2E_DIFF_API_PORT=N uses ports N (PHP) and N+1.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { after, before, test } from 'node:test';

import { hmac, parseHttpAnswer, stopAll } from './lib/harness.mjs';
import { ENV_APP, laravelMissing } from './lib/laravel-app.mjs';
import { LockStep, canonical, genScript, resubscribeMemberRemoved, seedList, staleCachedMemberRemoved, startPair } from './lib/differential.mjs';

const missing = laravelMissing({ bins: ['php', 'tar'] });
const SEEDS = seedList('REVERB_E2E_DIFF_API_SEEDS', [1, 2, 3, 4]);
const STEPS = Number(process.env.REVERB_E2E_DIFF_API_STEPS || 40);

// ---------------------------------------------------------------------------
// The two servers.

const app = { ...ENV_APP };
let pair;
let php;
let go;

before(async () => {
  if (missing) return;
  pair = await startPair('reverb-e2e-diff-api-', 'REVERB_E2E_DIFF_API_PORT', [app]);
  ({ php, go } = pair);
}, { timeout: 120000 });

after(async () => {
  await stopAll();
  if (pair) await pair.stop();
});

// ---------------------------------------------------------------------------
// The script generator (genScript: the same seed gives the same script everywhere).

// Each client's first subscription is a presence channel it never leaves (a reconnect
// subscribes it again first): docs/compatibility.md §1, Reverb's terminate_connections
// answers 500 when the first channel it finds a socket in has no user_id.
const BASE = [
  { ch: 'presence-a', user: { user_id: '1', user_info: { name: 'Ann' } } },
  { ch: 'presence-a', user: { user_id: '2', user_info: { name: 'Bob' } } },
  { ch: 'presence-b', user: { user_id: '1', user_info: { name: 'Ann' } } },
];
const CLIENTS = BASE.length;
const EXTRA = ['news', 'private-a', 'private-encrypted-a', 'cache-a', 'private-cache-a', 'presence-cache-a', 'presence-b', 'presence-a'];
const USERS = [{ user_id: '3', user_info: { n: 3 } }, { user_id: 4, user_info: 'four' }, { user_id: '1', user_info: { name: 'Ann' } }];
// Channels named in API requests: the subscribed ones, empty ones of every type, odd names.
const API_CHANNELS = [
  ...EXTRA, 'presence-a', 'presence-b', 'presence-a', 'news', 'empty', 'presence-empty', 'private-empty', 'cache-empty',
  'presence-cache-empty', 'privatefoo', 'presencefoo', 'cachefoo', 'a b', 'é', 'x:y', '',
];
const INFOS = ['user_count', 'subscription_count', 'user_count,subscription_count', 'subscription_count,user_count', 'occupied', 'cache', 'user_count, subscription_count', '', 'bogus'];

function genChannelsList(r) {
  const n = r.pick([1, 2, 3, 5]);
  const out = [];
  for (let i = 0; i < n; i++) out.push(r.pick(API_CHANNELS));
  return out;
}

function genEventBody(r) {
  const b = {};
  if (r.chance(0.93)) b.name = r.chance(0.85) ? r.pick(['evt', 'App\\Events\\Sent', 'client-x', 'pusher:x', 'é']) : r.pick([5, null, '', ' ', [], { a: 1 }, true]);
  if (r.chance(0.93)) b.data = r.chance(0.8) ? r.pick(['{"m":1}', 'text', '{}', '[]', '"q"', '{"a":{"b":[1,2.5]}}', 'é ✓']) : r.pick([{ a: 1 }, [1], 5, null, '', ' ', false, 1.5]);
  const form = r.int(10);
  if (form < 5) b.channel = r.pick(API_CHANNELS);
  else if (form < 8) b.channels = genChannelsList(r);
  else if (form === 8) b.channel = r.pick([5, null, ['news'], { x: 'news' }, true]);
  else b.channels = r.pick(['news', { a: 'news', b: 'presence-a' }, [], [['news']], [5, 'news'], [null], Array.from({ length: 101 }, (_, i) => `ch-${i}`), Array.from({ length: 100 }, (_, i) => `c${i}`), ['news', 'news']]);
  if (form < 8 && r.chance(0.1)) b[form < 5 ? 'channels' : 'channel'] = r.pick([['news'], 'news', null]);
  if (r.chance(0.25)) b.socket_id = r.chance(0.7) ? { client: r.int(CLIENTS) } : r.pick(['1.1', 'abc', 5, null, '', ['x']]);
  if (r.chance(0.3)) b.info = r.chance(0.8) ? r.pick(INFOS) : r.pick([5, ['user_count'], null]);
  if (r.chance(0.05)) b.extra = r.pick([1, 'x', { y: 1 }]);
  return b;
}

function genBatchBody(r) {
  const roll = r.int(12);
  if (roll === 0) return r.pick([{}, { batch: {} }, { batch: 'x' }, { batch: null }, { batch: [] }, { batch: { a: { name: 'e', data: 'd', channel: 'news' } } }, { batch: [5] }, { batch: [[]] }]);
  const n = r.pick([1, 2, 3, 10, 11]);
  const items = [];
  for (let i = 0; i < n; i++) {
    const it = genEventBody(r);
    // docs/compatibility.md §1: Reverb answers 500 to a batch item whose socket_id
    // names a subscribed connection (we send it to the others as /events does).
    if (it.socket_id && typeof it.socket_id === 'object' && !Array.isArray(it.socket_id)) it.socket_id = '9.9';
    if ('channels' in it && r.chance(0.8)) {
      it.channel = Array.isArray(it.channels) && typeof it.channels[0] === 'string' ? it.channels[0] : 'news';
      delete it.channels;
    }
    items.push(it);
  }
  return { batch: items };
}

function genQuery(r, route) {
  const q = [];
  if (route === 'channels') {
    if (r.chance(0.5)) q.push(['filter_by_prefix', r.pick(['presence-', 'private-', 'cache-', '', 'news', 'x', 'presence-cache-'])]);
    if (r.chance(0.5)) q.push(['info', r.pick(INFOS)]);
  }
  if (route === 'channel' && r.chance(0.7)) q.push(['info', r.pick(INFOS)]);
  if (r.chance(0.08)) q.push(['info[]', r.pick(['user_count', 'subscription_count'])]);
  if (r.chance(0.05)) q.push(['filter_by_prefix[]', 'presence-']);
  if (r.chance(0.1)) q.push([r.pick(['extra', 'a.b', 'a b', 'a[', 'a[b]', 'x%20y', 'appId', 'channelName', 'zzz', 'A', '0', '10', '-1', '1.5', 'ä']), r.pick(['1', '', 'x y', 'é', 'a,b'])]);
  return q;
}

function genApiOp(r) {
  const roll = r.int(100);
  let route;
  if (roll < 30) route = 'events';
  else if (roll < 45) route = 'batch';
  else if (roll < 60) route = 'channels';
  else if (roll < 75) route = 'channel';
  else if (roll < 85) route = 'users';
  else if (roll < 90) route = 'terminate';
  else if (roll < 93) route = 'connections';
  else route = 'other';
  const op = { op: 'api', route, appId: app.id, method: { events: 'POST', batch: 'POST', terminate: 'POST' }[route] ?? 'GET' };
  op.query = genQuery(r, route);
  if (route === 'events') op.body = genEventBody(r);
  if (route === 'batch') op.body = genBatchBody(r);
  if (route === 'channel' || route === 'users') op.channel = r.pick(API_CHANNELS);
  if (route === 'terminate') {
    op.user = r.pick(['1', '2', '3', '4', 'nobody', '01']);
    if (r.chance(0.2)) op.body = r.pick([{}, { x: 1 }]);
  }
  if (route === 'other') {
    op.rawPath = r.pick(['/up', '/', '/apps', `/apps/${app.id}`, `/apps/${app.id}/`, `/apps/${app.id}/unknown`, '/app', `/app/${app.key}`, '/apps/0/events', '/apps/999/channels', '/apps//channels', `/apps/${app.id}/channels/a/b`, `/apps/${app.id}/channels//users`, '/up/', '/UP', `/APPS/${app.id}/channels`]);
    op.method = r.pick(['GET', 'GET', 'POST', 'HEAD', 'PUT', 'DELETE']);
  }
  // Mutations.
  if (r.chance(0.15)) op.methodCase = r.pick(['lower', 'wrong']);
  if (r.chance(0.3)) op.sign = r.pick(['bad', 'none', 'empty', 'array', 'duplicateFirst', 'duplicateLast', 'upper', 'decodedPath', 'wrongMethod', 'noBody', 'keyless']);
  if (r.chance(0.25)) op.auth = r.pick(['noTimestamp', 'oldTimestamp', 'textTimestamp', 'noVersion', 'version2', 'noKey', 'wrongKey', 'bodyMd5Wrong', 'bodyMd5Right', 'dupTimestamp']);
  if (r.chance(0.12)) op.pathForm = r.pick(['trailingSlash', 'encodedSegment', 'encodedAll', 'doubleSlash', 'fragment', 'fragmentInPath', 'dotSegment', 'encodedSlash']);
  if (r.chance(0.1)) op.bodyForm = r.pick(['empty', 'brace', 'null', 'string', 'number', 'list', 'object', 'huge', 'nearLimit', 'bom', 'trailing', 'deep']);
  if (r.chance(0.05)) op.appId = r.pick(['999', '0', '', '473820 ', 'w1mhnp0sxbeqkdfnrh2l', '4738200', '0473820']);
  return op;
}

function genOp(r) {
  const roll = r.int(100);
  const c = r.int(CLIENTS);
  if (roll < 10) {
    const ch = r.pick(EXTRA);
    return { op: 'subscribe', c, ch, user: r.pick(USERS) };
  }
  if (roll < 16) return { op: 'unsubscribe', c, ch: r.pick(EXTRA.filter((x) => x !== BASE[c].ch)) };
  return genApiOp(r);
}

// ---------------------------------------------------------------------------
// Raw HTTP: the request exactly as written, Connection: close, read to the end.

function rawRequest(server, text, timeout = 5000) {
  return new Promise((resolve) => {
    const sock = net.connect(server.port, '127.0.0.1');
    const got = [];
    const timer = setTimeout(() => sock.destroy(), timeout);
    const done = () => {
      clearTimeout(timer);
      const raw = Buffer.concat(got).toString('utf8');
      const { status, headers, body: text } = parseHttpAnswer(raw);
      let body = text;
      if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
        // docs/compatibility.md §2: net/http's framing (a large answer is chunked).
        let out = '';
        let rest = Buffer.from(body);
        for (;;) {
          const eol = rest.indexOf('\r\n');
          const n = parseInt(rest.subarray(0, eol).toString(), 16);
          if (!(n > 0)) break;
          out += rest.subarray(eol + 2, eol + 2 + n).toString();
          rest = rest.subarray(eol + 2 + n + 2);
        }
        body = out;
      }
      resolve({ status, headers, body, raw });
    };
    sock.on('data', (d) => got.push(d));
    sock.on('close', done);
    sock.on('error', () => {});
    sock.write(text);
  });
}

const md5 = (s) => crypto.createHash('md5').update(s).digest('hex');
const enc = (s) => encodeURIComponent(s);

// Builds the request text of an api op; socket ids come from the run.
function buildRequest(op, sid) {
  // Path.
  let route;
  const chanSeg = (c) => {
    if (op.pathForm === 'encodedSegment') return [...Buffer.from(c)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
    return enc(c);
  };
  switch (op.route) {
    case 'events': route = `/apps/${enc(op.appId)}/events`; break;
    case 'batch': route = `/apps/${enc(op.appId)}/batch_events`; break;
    case 'channels': route = `/apps/${enc(op.appId)}/channels`; break;
    case 'connections': route = `/apps/${enc(op.appId)}/connections`; break;
    case 'channel': route = `/apps/${enc(op.appId)}/channels/${chanSeg(op.channel)}`; break;
    case 'users': route = `/apps/${enc(op.appId)}/channels/${chanSeg(op.channel)}/users`; break;
    case 'terminate': route = `/apps/${enc(op.appId)}/users/${chanSeg(op.user)}/terminate_connections`; break;
    default: route = op.rawPath;
  }
  let sentPath = route;
  if (op.pathForm === 'trailingSlash') sentPath += '/';
  if (op.pathForm === 'doubleSlash') sentPath = sentPath.replace('/apps/', '//apps/');
  if (op.pathForm === 'dotSegment') sentPath = sentPath.replace('/apps/', '/apps/./');
  if (op.pathForm === 'encodedAll') sentPath = sentPath.replace(/[a-z]/, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
  if (op.pathForm === 'encodedSlash') sentPath = sentPath.replace(/\/([^/]*)$/, '%2F$1');

  // Body.
  let body = '';
  if (op.body !== undefined) {
    const fill = (v) => {
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        if ('client' in v && Object.keys(v).length === 1) return sid(v.client) ?? '0.0';
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]));
      }
      if (Array.isArray(v)) return v.map(fill);
      return v;
    };
    body = JSON.stringify(fill(op.body));
  }
  switch (op.bodyForm) {
    case 'empty': body = ''; break;
    case 'brace': body = '{'; break;
    case 'null': body = 'null'; break;
    case 'string': body = '"str"'; break;
    case 'number': body = '12'; break;
    case 'list': body = '[]'; break;
    case 'object': body = '{}'; break;
    case 'huge': body = JSON.stringify({ name: 'e', channel: 'news', data: 'x'.repeat(12000) }); break;
    case 'nearLimit': body = JSON.stringify({ name: 'e', channel: 'news', data: 'x'.repeat(9000) }); break;
    case 'bom': body = `\ufeff${body}`; break;
    case 'trailing': body = `${body} x`; break;
    case 'deep': body = `${'['.repeat(600)}${']'.repeat(600)}`; break;
    default:
  }

  // Method.
  let method = op.method;
  if (op.methodCase === 'lower') method = method.toLowerCase();
  if (op.methodCase === 'wrong') method = method === 'GET' ? 'POST' : 'GET';

  // Query and signature.
  const now = Math.floor(Date.now() / 1000);
  const params = [['auth_key', app.key], ['auth_timestamp', String(now)], ['auth_version', '1.0'], ...op.query];
  const drop = (k) => { const i = params.findIndex(([x]) => x === k); if (i >= 0) params.splice(i, 1); };
  const set = (k, v) => { const i = params.findIndex(([x]) => x === k); if (i >= 0) params[i][1] = v; else params.push([k, v]); };
  switch (op.auth) {
    case 'noTimestamp': drop('auth_timestamp'); break;
    case 'oldTimestamp': set('auth_timestamp', String(now - 100000)); break;
    case 'textTimestamp': set('auth_timestamp', 'yesterday'); break;
    case 'noVersion': drop('auth_version'); break;
    case 'version2': set('auth_version', '2.0'); break;
    case 'noKey': drop('auth_key'); break;
    case 'wrongKey': set('auth_key', 'nope'); break;
    case 'bodyMd5Wrong': params.push(['body_md5', '0'.repeat(32)]); break;
    case 'bodyMd5Right': params.push(['body_md5', md5(body)]); break;
    case 'dupTimestamp': params.push(['auth_timestamp', String(now + 1)]); break;
    default:
  }
  // What PHP's parse_str makes of the query, as a signer that knows it would sign it:
  // keys with '.', ' ' or an unclosed '[' mangled to '_', 'k[]' collected in a list,
  // the last of a repeated key wins; excluded keys dropped; body_md5 from the body.
  const phpKey = (k) => {
    let base = k;
    const br = k.indexOf('[');
    let arr = false;
    if (br > 0 && k.endsWith(']') && k.indexOf(']') > br) { base = k.slice(0, br); arr = k.slice(br) === '[]'; if (!arr) return { base, arr: 'nested' }; }
    base = base.replace(/[. ]/g, '_').replace(/\[/g, '_');
    return { base, arr };
  };
  const signed = new Map();
  const order = op.sign === 'duplicateFirst' ? [...params].reverse() : params;
  for (const [k, v] of order) {
    const dk = decodeURIComponent(k);
    const { base, arr } = phpKey(dk);
    if (arr === 'nested') { signed.set(base, [v]); continue; }
    if (arr) { const l = Array.isArray(signed.get(base)) ? signed.get(base) : []; l.push(v); signed.set(base, l); continue; }
    if (op.sign === 'duplicateFirst' && signed.has(base)) continue;
    signed.set(base, v);
  }
  for (const k of ['auth_signature', 'body_md5', 'appId', 'appKey', 'channelName']) signed.delete(k);
  if (body !== '' && op.sign !== 'noBody') signed.set('body_md5', md5(body));
  const keys = [...signed.keys()].sort((a, b) => {
    // ksort with PHP 8 rules: numeric-string keys are integers, compared as numbers
    // with each other; otherwise string comparison.
    const na = /^(0|-?[1-9]\d*)$/.test(a);
    const nb = /^(0|-?[1-9]\d*)$/.test(b);
    if (na && nb) return Number(a) - Number(b);
    return a < b ? -1 : a > b ? 1 : 0;
  });
  const qs = keys.map((k) => `${op.sign === 'upper' ? k.toUpperCase() : k}=${Array.isArray(signed.get(k)) ? signed.get(k).join(',') : signed.get(k)}`).join('&');
  let signPath = route;
  if (op.sign === 'decodedPath') signPath = decodeURIComponent(route);
  if (op.pathForm && op.sign !== 'decodedPath') signPath = sentPath;
  const signMethod = op.sign === 'wrongMethod' ? (op.method === 'GET' ? 'POST' : 'GET') : method.toUpperCase();
  let sig = hmac(app.secret, `${signMethod}\n${signPath}\n${qs}`);
  if (op.sign === 'bad') sig = '0'.repeat(64);
  if (op.sign === 'empty') sig = '';
  if (op.sign === 'keyless') sig = `${app.key}:${sig}`;
  // docs/compatibility.md §2: a raw space in the request target is net/http's 400 (Reverb
  // cuts the target there): keys are sent percent-encoded.
  const query = params.map(([k, v]) => `${k.includes('%') ? k : enc(k).replace(/%5B/g, '[').replace(/%5D/g, ']')}=${enc(v)}`);
  if (op.sign === 'array') query.push(`auth_signature[]=${sig}`);
  else if (op.sign !== 'none') query.push(`auth_signature=${sig}`);
  let target = `${sentPath}?${query.join('&')}`;
  if (op.pathForm === 'fragment') target += '#frag';
  if (op.pathForm === 'fragmentInPath') target = `${sentPath}#x?${query.join('&')}`;

  const head = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  if (body !== '' || method.toUpperCase() === 'POST') {
    head.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`);
  }
  return `${head.join('\r\n')}\r\n\r\n${body}`;
}

// ---------------------------------------------------------------------------
// Playing a script on one server.

function channelData(user) { return JSON.stringify(user); }

class Run extends LockStep {
  async connect(i) {
    const c = await super.connect(i, app.key);
    c.send(this.subscribeMessage(c, BASE[i].ch, BASE[i].user));
  }

  async start() {
    for (let i = 0; i < CLIENTS; i++) {
      await this.connect(i);
      await this.clients[i].nextWhere((f) => f.includes('subscription_succeeded'));
    }
  }

  sid(i) { const c = this.clients[i]; return c && !c.closeInfo ? c.socketId : undefined; }

  subscribeMessage(c, ch, user) {
    const data = { channel: ch };
    let toSign = `${c.socketId}:${ch}`;
    if (ch.startsWith('presence-')) {
      data.channel_data = channelData(user);
      toSign += `:${data.channel_data}`;
    }
    if (ch.startsWith('private-') || ch.startsWith('presence-')) data.auth = `${app.key}:${hmac(app.secret, toSign)}`;
    return { event: 'pusher:subscribe', data };
  }

  async play(op) {
    switch (op.op) {
      case 'subscribe': {
        const c = this.clients[op.c];
        if (!c.closeInfo) c.send(this.subscribeMessage(c, op.ch, op.user));
        return undefined;
      }
      case 'unsubscribe': {
        const c = this.clients[op.c];
        if (!c.closeInfo) c.send({ event: 'pusher:unsubscribe', data: { channel: op.ch } });
        return undefined;
      }
      case 'reconnect':
        for (let i = 0; i < CLIENTS; i++) {
          if (!this.clients[i].closeInfo && !op.all) continue;
          if (!this.clients[i].closeInfo) { this.clients[i].terminate(); await this.clients[i].closed; }
          await this.connect(i);
        }
        return undefined;
      case 'api': {
        const text = buildRequest(op, (i) => this.sid(i));
        const res = await rawRequest(this.server, text);
        return res;
      }
      default:
        throw new Error(`unknown op ${op.op}`);
    }
  }

  // Presence joins and leaves make a round trip through this server's bus before
  // subscription_succeeded, member_added and member_removed are sent, so a pong can
  // come before them: steps that join or leave wait for a longer quiet moment.
  quiesce(op = {}) {
    return this.settle({ quietMs: ['subscribe', 'unsubscribe', 'reconnect'].includes(op.op) || op.route === 'terminate' ? 80 : 25 });
  }

  // docs/compatibility.md §1: Reverb's server-initiated disconnects are a bare TCP
  // close (1006), ours a close frame with a Pusher code (4009 for terminate).
  take() {
    return super.take(() => '<closed>');
  }

  anyClosed() { return this.clients.some((c) => c.closeInfo); }
}

// An HTTP answer as compared: status, body (parsed JSON when it is JSON), the Allow
// header, and the Content-Type of JSON answers. docs/compatibility.md §2: Go's net/http
// writes its own headers (Content-Type on every answer, Date, keep-alive) where Reverb
// writes four fixed ones on JSON answers and none on errors; only these are compared.
function answer(res, run) {
  const out = { status: res.status };
  const body = run.normalise(res.body);
  try {
    out.json = JSON.stringify(JSON.parse(body));
    out.contentType = res.headers['content-type'];
  } catch {
    out.text = body;
  }
  if (res.headers.allow !== undefined) out.allow = res.headers.allow;
  return out;
}

function describe(op) {
  return JSON.stringify(op);
}

// docs/compatibility.md §1: on presence-cache- channels Reverb caches member_removed too,
// where we keep the last broadcast. A member_removed PHP reports as a channel's cache
// (info=cache) is not compared, nor the cache we report for that channel.
function staleCacheInAnswer(aa, ab) {
  if (!aa.json || !ab.json) return;
  const pa = JSON.parse(aa.json);
  const pb = JSON.parse(ab.json);
  const fix = (x, y) => {
    if (x && typeof x === 'object' && x.cache && x.cache.event === 'pusher_internal:member_removed') {
      delete x.cache;
      if (y && typeof y === 'object') delete y.cache;
    }
  };
  fix(pa, pb);
  for (const list of ['channels', 'batch']) {
    if (pa[list] && typeof pa[list] === 'object') for (const k of Object.keys(pa[list])) fix(pa[list][k], pb[list]?.[k]);
  }
  aa.json = JSON.stringify(pa);
  ab.json = JSON.stringify(pb);
}

// PHP 8's loose == of two numeric strings (leading and trailing whitespace allowed).
function looseNumericEqual(x, y) {
  const num = /^[ \t\n\r\v\f]*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?[ \t\n\r\v\f]*$/;
  return x !== y && num.test(x) && num.test(y) && Number(x.trim()) === Number(y.trim());
}

async function differential(seed) {
  const script = genScript(seed, STEPS, genOp);
  const a = new Run(php);
  const b = new Run(go);
  await Promise.all([a.start(), b.start()]);
  await Promise.all([a.quiesce({ op: 'reconnect' }), b.quiesce({ op: 'reconnect' })]);
  a.take();
  b.take();
  // Presence memberships (channel -> user id) of each client, as both servers have them.
  let members = BASE.map((x) => new Map([[x.ch, String(x.user.user_id)]]));
  const history = [];
  const fail = (msg, op) => {
    const req = op.op === 'api' ? `\nrequest:\n${buildRequest(op, (i) => b.sid(i)).slice(0, 1500)}` : '';
    assert.fail(`seed ${seed} step ${msg}${req}\nscript so far:\n${history.slice(-10).join('\n')}`);
  };
  try {
    for (let step = 0; step < script.length; step++) {
      let op = script[step];
      if (a.anyClosed() || b.anyClosed()) {
        op = { op: 'reconnect' };
        step--;
      }
      const reconnected = op.op === 'reconnect' ? [...Array(CLIENTS).keys()].filter((i) => a.clients[i].closeInfo || b.clients[i].closeInfo) : [];
      const [ra, rb] = await Promise.all([a.play(op), b.play(op)]);
      await Promise.all([a.quiesce(op), b.quiesce(op)]);
      const fa = a.take();
      const fb = b.take();
      let line = `#${step} ${describe(op)}`;
      let resync = false;
      if (ra) {
        const aa = answer(ra, a);
        const ab = answer(rb, b);
        line += `\n    -> php ${JSON.stringify(aa)}\n    -> go  ${JSON.stringify(ab)}`;
        history.push(line);
        staleCacheInAnswer(aa, ab);
        const sentMethod = buildRequest(op, () => '').split(' ')[0].toUpperCase();
        if (sentMethod === 'HEAD') {
          // docs/compatibility.md §2: a HEAD answer has no body (net/http), where
          // Reverb writes the GET answer's.
          for (const x of [aa, ab]) { delete x.text; delete x.json; delete x.contentType; }
        }
        const noApp = /^No matching application for ID \[(.*)\]\.$/s.exec(ab.text ?? '');
        if (op.route === 'terminate' && aa.status === 500 && ab.status === 200) {
          // docs/compatibility.md §1: Reverb's terminate_connections answers 500 when a
          // socket's first channel has no user_id (after terminating the sockets before
          // it). Both sides start again from fresh connections.
          resync = true;
        } else if (ab.status === 404 && noApp && looseNumericEqual(noApp[1], app.id)) {
          // docs/compatibility.md §1: Reverb finds apps by id with PHP's loose ==.
          resync = true;
        } else if (op.route === 'other' && op.rawPath === `/app/${app.key}` && aa.status === 500 && ab.status === (sentMethod === 'HEAD' ? 405 : 426)) {
          // docs/compatibility.md §2: a plain HTTP request to the WebSocket route gets
          // the handshake's answer (426; 405 to a HEAD) instead of Reverb's 500.
        } else if (aa.status === 400 && ab.status === 400 && ab.text === '400 Bad Request' && !buildRequest(op, () => '').split(' ')[1].startsWith('/')) {
          // docs/compatibility.md §2: a request net/http refuses before routing (here a
          // target not starting with '/') gets net/http's own 400 body.
        } else if (JSON.stringify(aa) !== JSON.stringify(ab)) {
          fail(`${step}: HTTP answers differ\n  php: ${JSON.stringify(aa)}\n  go:  ${JSON.stringify(ab)}`, op);
        }
      } else {
        history.push(line);
      }
      if (!resync) {
        const differ = [];
        for (let i = 0; i < CLIENTS; i++) {
          // docs/compatibility.md §1: a stale cached member_removed on presence-cache-
          // channels, and our member_removed on a resubscribe as another user (lib/differential.mjs).
          let [na, nb] = staleCachedMemberRemoved(fa[i], resubscribeMemberRemoved(op.op === 'subscribe' && op.ch, fa[i], fb[i]));
          if (op.route === 'terminate' && na.includes('<closed>') && nb.includes('<closed>')) {
            // docs/compatibility.md §1: the sockets one terminate_connections closes are
            // closed together, none gets member_removed for another (Reverb closes them
            // one by one: one closed later may first hear of one closed before it).
            const removed = (f) => f.includes('"pusher_internal:member_removed"');
            na = na.filter((f) => !removed(f));
            nb = nb.filter((f) => !removed(f));
          }
          if (JSON.stringify(na.map(canonical)) !== JSON.stringify(nb.map(canonical))) differ.push(i);
          if (fa[i].length) history.push(`   c${i}: ${fa[i].join(' ').slice(0, 400)}`);
        }
        // docs/compatibility.md §1: terminate_connections closes a socket when any of
        // its presence memberships carries the user id (Reverb: only the first channel
        // it finds the socket in). Clients we closed for that reason, and the
        // member_removed the others got for them, are not compared: both sides start
        // again from fresh connections.
        const extraClose = (i) => fb[i].includes('<closed>') && !fa[i].includes('<closed>') && [...members[i].values()].includes(op.user);
        if (differ.length && op.route === 'terminate' && bothOk(ra, rb) && [...Array(CLIENTS).keys()].some(extraClose)) {
          resync = true;
        } else if (differ.length) {
          const i = differ[0];
          fail(`${step}: client ${i} received different frames\n  php: ${JSON.stringify(fa[i])}\n  go:  ${JSON.stringify(fb[i])}`, op);
        }
      }
      if (op.op === 'subscribe' && op.ch.startsWith('presence-')) members[op.c].set(op.ch, String(op.user.user_id));
      if (op.op === 'unsubscribe') members[op.c].delete(op.ch);
      for (const i of reconnected) members[i] = new Map([[BASE[i].ch, String(BASE[i].user.user_id)]]);
      if (resync) {
        await Promise.all([a.play({ op: 'reconnect', all: true }), b.play({ op: 'reconnect', all: true })]);
        await Promise.all([a.quiesce({ op: 'reconnect' }), b.quiesce({ op: 'reconnect' })]);
        a.take();
        b.take();
        members = BASE.map((x) => new Map([[x.ch, String(x.user.user_id)]]));
      }
    }
  } finally {
    await Promise.all([a.end(), b.end()]);
  }
}

function bothOk(ra, rb) {
  return ra && rb && ra.status === 200 && rb.status === 200;
}

for (const seed of SEEDS) {
  test(`API differential against PHP Reverb: seed ${seed}`, { skip: missing || false, timeout: 120000 }, async () => {
    await differential(seed);
  });
}
