// TLS served by reverb itself (servers.reverb.options.tls), end to end: a CA
// made in the test with the openssl CLI, the server started on its
// certificate, then `ws` (trusting the CA through its `ca` option) and
// pusher-js (in a child Node process trusting it through NODE_EXTRA_CA_CERTS)
// over wss, receiving connection_established and a broadcast. An encrypted
// key with the wrong passphrase makes `reverb start` fail with a clear message.
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

import { APP_A, REVERB_BIN, createProject, freePort, signApi } from './lib/harness.mjs';

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
async function startTLS(tls, { home } = {}) {
  const project = await createProject({
    tls,
    env: { REVERB_HOST: 'localhost', REVERB_SCHEME: 'https' },
  });
  const port = await freePort();
  const args = ['start', '--dir', project.dir, '--host', '127.0.0.1', '--port', String(port),
    '--workers', '1', '--drain-window', '200ms'];
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
  const deadline = Date.now() + timeout;
  let gone = false;
  server.exited.then(() => { gone = true; });
  for (;;) {
    if (gone) throw new Error(`reverb exited before serving HTTPS:\n${server.output()}`);
    try {
      const r = await httpsRequest(server, 'GET', '/up');
      if (r.status === 200) return;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`no HTTPS /up within ${timeout} ms:\n${server.output()}`);
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
  const p = `/apps/${app.id}/events`;
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
      const deadline = Date.now() + 8000;
      while (!out.includes('subscribed') && Date.now() < deadline && child.exitCode === null) {
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
});
