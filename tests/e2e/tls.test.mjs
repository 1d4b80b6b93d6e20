// TLS served by reverb itself (servers.reverb.options.tls), end to end: a CA
// made in the test with the openssl CLI, the server started on its
// certificate, then `ws` (trusting the CA through its `ca` option) and
// pusher-js (in a child Node process trusting it through NODE_EXTRA_CA_CERTS)
// over wss, receiving connection_established and a broadcast. An encrypted
// key with the wrong passphrase makes `reverb start` fail with a clear message.
//
// TLS 1.3 connections continue on the server's own record layer after the
// handshake (the epoll path plain sockets take); TLS 1.2 stays on crypto/tls.
// So: many `ws` clients on every TLS 1.3 cipher suite and on TLS 1.2, with
// broadcasts coalesced into multi-record writes and a client event larger
// than a record, on two workers; and `openssl s_client` driving a WebSocket
// by hand through KeyUpdates in both directions.
//
// The harness waits for readiness over plain HTTP, so servers here are
// spawned directly (same flags as the harness) and polled over HTTPS.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import WebSocket from 'ws';

import { APP_A, REVERB_BIN, createProject, defaultApps, freePort, signApi, signChannel } from './lib/harness.mjs';

const haveOpenSSL = spawnSync('openssl', ['version']).status === 0;
const skip = !haveOpenSSL ? 'openssl CLI not installed (needed to make the test CA)' : false;

const PASS = 'correct horse';
let pki; // {dir, ca, cert, key, encKey}

function openssl(...args) {
  const r = spawnSync('openssl', args, { cwd: pki.dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

function makePKI() {
  pki = { dir: fs.mkdtempSync(path.join(os.tmpdir(), 'reverb-tls-')) };
  const f = (n) => path.join(pki.dir, n);
  fs.writeFileSync(f('san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=reverb e2e test CA', '-days', '2');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext');
  // PKCS#8 PBES2 (AES-256-CBC), what openssl 3 writes for an encrypted key.
  openssl('pkey', '-in', 'server.key', '-aes256', '-passout', `pass:${PASS}`, '-out', 'server.enc.key');
  Object.assign(pki, { ca: f('ca.crt'), cert: f('server.crt'), key: f('server.key'), encKey: f('server.enc.key') });
}

const running = new Set();

/** Starts reverb on a TLS project; resolves once GET /up answers over HTTPS. */
async function startTLS(tls, { home, workers = 1, apps, maxRequestSize } = {}) {
  const project = await createProject({
    tls,
    apps,
    maxRequestSize,
    env: { REVERB_HOST: 'localhost', REVERB_SCHEME: 'https' },
  });
  const port = await freePort();
  const args = ['start', '--dir', project.dir, '--host', '127.0.0.1', '--port', String(port),
    '--workers', String(workers), '--drain-window', '200ms'];
  const proc = spawn(REVERB_BIN, args, {
    cwd: project.dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...cleanEnv(), ...(home ? { HOME: home } : {}) },
  });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const server = { proc, port, project, exited, output: () => out };
  running.add(server);
  return server;
}

async function waitReady(server, timeout = 15000) {
  const deadline = performance.now() + timeout;
  let gone = false;
  server.exited.then(() => { gone = true; });
  for (;;) {
    if (gone) throw new Error(`reverb exited before serving HTTPS:\n${server.output()}`);
    try {
      const r = await httpsRequest(server, 'GET', '/up');
      if (r.status === 200) return;
    } catch { /* not yet */ }
    if (performance.now() > deadline) throw new Error(`no HTTPS /up within ${timeout} ms:\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function cleanEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(REVERB_|REDIS_|APP_|CACHE_|DB_|PULSE_)/.test(k)) env[k] = v;
  }
  return env;
}

async function stop(server) {
  running.delete(server);
  if (server.proc.exitCode === null && server.proc.signalCode === null) {
    server.proc.kill('SIGTERM');
    const t = setTimeout(() => server.proc.kill('SIGKILL'), 5000);
    await server.exited;
    clearTimeout(t);
  }
  fs.rmSync(server.project.dir, { recursive: true, force: true });
}

function httpsRequest(server, method, p, body) {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', servername: 'localhost', port: server.port, method, path: p,
      ca: fs.readFileSync(pki.ca), agent: false, timeout: 2000,
      headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {},
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

/** POST /apps/{id}/events over HTTPS, signed like pusher-http-php. */
async function trigger(server, app, channel, event, data) {
  const body = JSON.stringify({ name: event, channels: [channel], data: JSON.stringify(data) });
  await signedPost(server, app, `/apps/${app.id}/events`, body);
}

/** POST /apps/{id}/batch_events over HTTPS. */
async function triggerBatch(server, app, events) {
  const body = JSON.stringify({ batch: events.map((e) => ({ ...e, data: JSON.stringify(e.data) })) });
  await signedPost(server, app, `/apps/${app.id}/batch_events`, body);
}

async function signedPost(server, app, p, body) {
  const q = signApi(app.secret, 'POST', p, { auth_key: app.key, auth_timestamp: Math.floor(Date.now() / 1000), auth_version: '1.0' }, body);
  const r = await httpsRequest(server, 'POST', `${p}?${new URLSearchParams(q)}`, body);
  assert.equal(r.status, 200, r.text);
}

function nextMessage(ws, timeout = 5000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no message')), timeout);
    ws.once('message', (m) => { clearTimeout(t); resolve(JSON.parse(m.toString())); });
    ws.once('error', (e) => { clearTimeout(t); reject(e); });
  });
}

describe('TLS served in-process', { skip }, () => {
  before(makePKI);
  after(async () => {
    for (const s of [...running]) await stop(s);
    if (pki) fs.rmSync(pki.dir, { recursive: true, force: true });
  });

  test('ws over wss trusting the test CA: connection_established and a broadcast', async () => {
    const server = await startTLS({ local_cert: pki.cert, local_pk: pki.key });
    try {
      await waitReady(server);
      assert.match(server.output(), /Starting secure server on 127\.0\.0\.1:\d+/);

      const ws = new WebSocket(`wss://localhost:${server.port}/app/${APP_A.key}?protocol=7&client=js&version=8.6.0&flash=false`,
        { ca: fs.readFileSync(pki.ca), perMessageDeflate: false });
      const established = await nextMessage(ws);
      assert.equal(established.event, 'pusher:connection_established');
      const { socket_id: socketId, activity_timeout: activity } = JSON.parse(established.data);
      assert.match(socketId, /^\d+\.\d+$/);
      assert.equal(activity, 30);

      ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel: 'tls-channel' } }));
      assert.equal((await nextMessage(ws)).event, 'pusher_internal:subscription_succeeded');
      const got = nextMessage(ws);
      await trigger(server, APP_A, 'tls-channel', 'Secured', { ok: true });
      const msg = await got;
      assert.deepEqual({ event: msg.event, channel: msg.channel, data: JSON.parse(msg.data) },
        { event: 'Secured', channel: 'tls-channel', data: { ok: true } });
      ws.close();
    } finally {
      await stop(server);
    }
  });

  test('an untrusting client is refused the handshake', async () => {
    const server = await startTLS({ local_cert: pki.cert, local_pk: pki.key });
    try {
      await waitReady(server);
      const ws = new WebSocket(`wss://localhost:${server.port}/app/${APP_A.key}?protocol=7`, { perMessageDeflate: false });
      const err = await new Promise((resolve) => { ws.once('error', resolve); ws.once('open', () => resolve(null)); });
      assert.ok(err, 'a client without the CA connected');
      assert.match(String(err.code ?? err.message), /SELF_SIGNED|UNABLE_TO_VERIFY|unable to get local issuer|self.signed/i);
    } finally {
      await stop(server);
    }
  });

  test('pusher-js with forceTLS/wssPort (NODE_EXTRA_CA_CERTS), encrypted key with passphrase', async () => {
    const server = await startTLS({ local_cert: pki.cert, local_pk: pki.encKey, passphrase: PASS });
    try {
      await waitReady(server);
      const script = `
        import Pusher from 'pusher-js';
        const p = new Pusher(${JSON.stringify(APP_A.key)}, {
          cluster: '', wsHost: 'localhost', wsPort: ${server.port}, wssPort: ${server.port},
          forceTLS: true, enabledTransports: ['ws', 'wss'], disableStats: true,
        });
        p.connection.bind('connected', () => console.log('connected ' + p.connection.socket_id));
        p.connection.bind('error', (e) => console.log('error ' + JSON.stringify(e)));
        const ch = p.subscribe('tls-pusher');
        ch.bind('pusher:subscription_succeeded', () => console.log('subscribed'));
        ch.bind('Hello', (d) => { console.log('event ' + JSON.stringify(d)); p.disconnect(); process.exit(0); });
        setTimeout(() => { console.log('timeout'); process.exit(3); }, 8000);
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        cwd: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'),
        env: { ...process.env, NODE_EXTRA_CA_CERTS: pki.ca },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => { out += d; });
      child.stderr.on('data', (d) => { out += d; });
      const done = new Promise((resolve) => child.on('exit', resolve));
      const deadline = performance.now() + 8000;
      while (!out.includes('subscribed') && performance.now() < deadline && child.exitCode === null) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.match(out, /connected \d+\.\d+/, out);
      assert.match(out, /subscribed/, out);
      await trigger(server, APP_A, 'tls-pusher', 'Hello', { from: 'https api' });
      assert.equal(await done, 0, out);
      assert.match(out, /event \{"from":"https api"\}/);
    } finally {
      await stop(server);
    }
  });

  test('a Valet certificate for REVERB_HOST switches the server to TLS (Reverb\'s Herd/Valet lookup)', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'reverb-home-'));
    const certs = path.join(home, '.config', 'valet', 'Certificates');
    fs.mkdirSync(certs, { recursive: true });
    fs.copyFileSync(pki.cert, path.join(certs, 'localhost.crt'));
    fs.copyFileSync(pki.key, path.join(certs, 'localhost.key'));
    const server = await startTLS({}, { home });
    try {
      await waitReady(server);
      assert.match(server.output(), /Starting secure server on 127\.0\.0\.1:\d+ \(localhost\)/);
      const ws = new WebSocket(`wss://localhost:${server.port}/app/${APP_A.key}?protocol=7`,
        { ca: fs.readFileSync(pki.ca), perMessageDeflate: false });
      assert.equal((await nextMessage(ws)).event, 'pusher:connection_established');
      ws.close();
    } finally {
      await stop(server);
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  test('a wrong passphrase makes reverb start fail with a clear message', async () => {
    const server = await startTLS({ local_cert: pki.cert, local_pk: pki.encKey, passphrase: 'wrong' });
    try {
      const t = setTimeout(() => server.proc.kill('SIGKILL'), 10000);
      const res = await server.exited;
      clearTimeout(t);
      assert.notEqual(res.code, 0, `exited ${JSON.stringify(res)}:\n${server.output()}`);
      assert.notEqual(res.signal, 'SIGKILL', `still running after 10 s:\n${server.output()}`);
      assert.match(server.output(), /passphrase/i);
      assert.ok(server.output().includes(pki.encKey), `the message names the key file:\n${server.output()}`);
    } finally {
      await stop(server);
    }
  });
  test('many wss clients on every TLS 1.3 suite and on TLS 1.2 get every broadcast in order, two workers', async () => {
    const app = { ...APP_A, max_message_size: 200000 };
    const server = await startTLS({ local_cert: pki.cert, local_pk: pki.key },
      { workers: 2, apps: [app, ...defaultApps().slice(1)], maxRequestSize: 200000 });
    const clients = [];
    try {
      await waitReady(server);
      const kinds = [
        { ciphers: 'TLS_AES_128_GCM_SHA256', protocol: 'TLSv1.3' },
        { ciphers: 'TLS_AES_256_GCM_SHA384', protocol: 'TLSv1.3' },
        { ciphers: 'TLS_CHACHA20_POLY1305_SHA256', protocol: 'TLSv1.3' },
        { maxVersion: 'TLSv1.2', protocol: 'TLSv1.2' },
      ];
      const n = 120;
      const channel = 'private-many';
      await Promise.all(Array.from({ length: n }, async (_, i) => {
        const kind = kinds[i % kinds.length];
        const { protocol, ...tlsOpts } = kind;
        const ws = new WebSocket(`wss://localhost:${server.port}/app/${app.key}?protocol=7&client=js&version=8.6.0`,
          { ca: fs.readFileSync(pki.ca), perMessageDeflate: false, ...tlsOpts });
        const c = { ws, kind, got: [], waiters: [] };
        clients.push(c);
        const established = await nextMessage(ws, 20000);
        assert.equal(ws._socket.getProtocol(), protocol);
        if (kind.ciphers) assert.equal(ws._socket.getCipher().standardName, kind.ciphers);
        c.id = JSON.parse(established.data).socket_id;
        ws.send(JSON.stringify({ event: 'pusher:subscribe',
          data: { channel, auth: `${app.key}:${signChannel(app.secret, c.id, channel)}` } }));
        assert.equal((await nextMessage(ws, 20000)).event, 'pusher_internal:subscription_succeeded');
        ws.on('message', (m) => {
          c.got.push(JSON.parse(m.toString()));
          for (const w of c.waiters.splice(0)) w();
        });
      }));
      const until = (c, pred, what) => new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${what}: client ${c.kind.ciphers ?? c.kind.maxVersion} has ${c.got.length} messages`)), 30000);
        const check = () => { if (pred(c.got)) { clearTimeout(t); resolve(); } else c.waiters.push(check); };
        check();
      });

      // Batches of 10 events of 4 KB: each worker's flush carries several
      // frames, sealed into records of up to 16 KiB.
      const pad = 'x'.repeat(4000);
      const rounds = 5;
      for (let r = 0; r < rounds; r++) {
        await triggerBatch(server, app, Array.from({ length: 10 }, (_, k) => (
          { name: 'Seq', channel, data: { n: r * 10 + k, pad } })));
      }
      await Promise.all(clients.map((c) => until(c, (got) => got.filter((m) => m.event === 'Seq').length >= rounds * 10, 'broadcasts')));
      for (const c of clients) {
        const seq = c.got.filter((m) => m.event === 'Seq').map((m) => JSON.parse(m.data).n);
        assert.deepEqual(seq, Array.from({ length: rounds * 10 }, (_, i) => i));
      }

      // A client event larger than a record, from a TLS 1.3 client, reaches
      // every other member.
      const big = 'y'.repeat(60000);
      clients[0].ws.send(JSON.stringify({ event: 'client-big', channel, data: { big } }));
      await Promise.all(clients.slice(1).map((c) => until(c, (got) => got.some((m) => m.event === 'client-big'), 'client event')));
      for (const c of clients.slice(1)) {
        const m = c.got.find((x) => x.event === 'client-big');
        assert.equal((typeof m.data === 'string' ? JSON.parse(m.data) : m.data).big.length, big.length);
      }

      // Every client closes in order: the server answers the close frame.
      await Promise.all(clients.map((c) => new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no close answer')), 20000);
        c.ws.once('close', (code) => { clearTimeout(t); resolve(code); });
        c.ws.close(1000);
      })));
    } finally {
      for (const c of clients) c.ws.terminate();
      await stop(server);
    }
  });

  test('openssl s_client: a WebSocket by hand through KeyUpdates both ways', { skip: !haveOpenSSL }, async () => {
    const server = await startTLS({ local_cert: pki.cert, local_pk: pki.key });
    // s_client connects once, at start: only once the server listens.
    try { await waitReady(server); } catch (e) { await stop(server); throw e; }
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${server.port}`, '-servername', 'localhost',
      '-CAfile', pki.ca, '-verify_return_error', '-tls1_3', '-ciphersuites', 'TLS_CHACHA20_POLY1305_SHA256'],
    { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d.toString('latin1'); });
    child.stderr.on('data', (d) => { out += d.toString('latin1'); });
    const count = (s) => out.split(s).length - 1;
    const waitOut = async (s, times = 1) => {
      const deadline = performance.now() + 15000;
      while (count(s) < times) {
        if (performance.now() > deadline || child.exitCode !== null) throw new Error(`s_client did not print ${s} ×${times}:\n${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    // A masked client text frame (payload < 126 bytes).
    const frame = (text) => {
      const p = Buffer.from(text);
      const mask = Buffer.from([1, 2, 3, 4]);
      return Buffer.concat([Buffer.from([0x81, 0x80 | p.length]), mask, Buffer.from(p.map((b, i) => b ^ mask[i % 4]))]);
    };
    try {
      child.stdin.write(`GET /app/${APP_A.key}?protocol=7 HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n` +
        'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
      await waitOut('pusher:connection_established');
      const ping = frame('{"event":"pusher:ping","data":{}}');
      // K: KeyUpdate with update_requested (the server answers with its own).
      child.stdin.write('K\n');
      await waitOut('KEYUPDATE', 1);
      child.stdin.write(ping);
      await waitOut('pusher:pong', 1);
      // k: KeyUpdate without a request.
      child.stdin.write('k\n');
      await waitOut('KEYUPDATE', 2);
      child.stdin.write(frame('{"event":"pusher:subscribe","data":{"channel":"tls-keys"}}'));
      await waitOut('subscription_succeeded');
      await trigger(server, APP_A, 'tls-keys', 'AfterKeyUpdates', { ok: 1 });
      await waitOut('AfterKeyUpdates');
      child.stdin.write(ping);
      await waitOut('pusher:pong', 2);
    } finally {
      child.kill();
      await stop(server);
    }
  });
});
