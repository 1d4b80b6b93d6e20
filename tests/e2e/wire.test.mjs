// WebSocket framing rules of spec §1.4–§1.5 checked with hand-written frames over plain TCP:
// the handshake response, protocol violations closed with Ratchet's codes and reasons, close
// echo, fragmented and binary messages.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import { APP_A, api, defaultApps, httpGet, rawHttp, startServer } from './lib/harness.mjs';
import { PONG } from './lib/frames.mjs';

let server;

before(async () => {
  server = await startServer({ apps: defaultApps() });
});

after(async () => {
  await server?.stop();
});

/** Encodes one client frame (masked unless mask === false). */
function frame(opcode, payload, { fin = true, mask = true, rsv = 0 } = {}) {
  const body = Buffer.from(payload);
  const len = body.length;
  const head = [((fin ? 0x80 : 0) | (rsv << 4) | opcode)];
  const m = mask ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 255);
  else {
    head.push(m | 127);
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(len));
    head.push(...b);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), body]);
  const key = crypto.randomBytes(4);
  const masked = Buffer.from(body.map((x, i) => x ^ key[i % 4]));
  return Buffer.concat([Buffer.from(head), key, masked]);
}

const closePayload = (code, reason = '') => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, Buffer.from(reason)]);
};

/** A WebSocket spoken by hand: handshake, then a parser of server frames. */
class WireSocket {
  static async open(key = APP_A.key, path = `/app/${key}?protocol=7`) {
    const w = new WireSocket();
    w.sock = net.connect(server.port, server.host);
    w.buf = Buffer.alloc(0);
    w.frames = [];
    w.waiters = [];
    w.ended = false;
    await new Promise((r, j) => { w.sock.once('connect', r); w.sock.once('error', j); });
    const wsKey = crypto.randomBytes(16).toString('base64');
    w.sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${wsKey}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    w.sock.on('data', (d) => { w.buf = Buffer.concat([w.buf, d]); w.parse(); });
    w.sock.on('close', () => { w.ended = true; w.wake(); });
    w.sock.on('error', () => {});
    await w.until(() => w.response !== undefined, 'handshake response');
    w.expectedAccept = crypto.createHash('sha1').update(wsKey + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    return w;
  }

  wake() { this.waiters.splice(0).forEach((f) => f()); }

  parse() {
    if (this.response === undefined) {
      const i = this.buf.indexOf('\r\n\r\n');
      if (i < 0) return;
      this.response = this.buf.subarray(0, i).toString();
      this.buf = this.buf.subarray(i + 4);
    }
    for (;;) {
      if (this.buf.length < 2) break;
      const b0 = this.buf[0];
      let len = this.buf[1] & 0x7f;
      let off = 2;
      if (len === 126) { if (this.buf.length < 4) break; len = this.buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (this.buf.length < 10) break; len = Number(this.buf.readBigUInt64BE(2)); off = 10; }
      if (this.buf.length < off + len) break;
      const payload = this.buf.subarray(off, off + len);
      this.frames.push({ fin: !!(b0 & 0x80), opcode: b0 & 0x0f, payload: Buffer.from(payload) });
      this.buf = this.buf.subarray(off + len);
    }
    this.wake();
  }

  async until(pred, what, timeout = 3000) {
    const deadline = performance.now() + timeout;
    while (!pred()) {
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}; frames ${JSON.stringify(this.frames.map((f) => [f.opcode, f.payload.toString()]))} ended=${this.ended}`);
      await new Promise((r) => { const t = setTimeout(r, deadline - performance.now()); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }

  /** Next data/close/ping/pong frame from the server. */
  async next() {
    this.read ??= 0;
    await this.until(() => this.frames.length > this.read || (this.ended && this.frames.length <= this.read), 'a frame');
    if (this.frames.length <= this.read) throw new Error('connection ended without another frame');
    return this.frames[this.read++];
  }

  async nextText() {
    const f = await this.next();
    assert.equal(f.opcode, 1, `expected a text frame, got opcode ${f.opcode} ${f.payload}`);
    assert.equal(f.fin, true, 'unfragmented');
    return f.payload.toString();
  }

  /** Expects a close frame with code and reason, then the TCP connection to end. */
  async expectClose(code, reason) {
    let f;
    do { f = await this.next(); } while (f.opcode !== 8 && f.opcode === 1);
    assert.equal(f.opcode, 8, `expected a close frame, got opcode ${f.opcode} ${f.payload}`);
    assert.equal(f.payload.length >= 2 ? f.payload.readUInt16BE(0) : undefined, code, `close payload ${f.payload.toString('hex')}`);
    if (reason !== undefined) assert.equal(f.payload.subarray(2).toString(), reason);
    await this.until(() => this.ended, 'TCP close after the close frame');
  }

  write(b) { this.sock.write(b); }

  destroy() { this.sock.destroy(); }
}

describe('handshake (§1.4)', () => {
  test('101 with Sec-WebSocket-Accept and X-Powered-By, no extensions or protocol', async () => {
    const w = await WireSocket.open();
    const lines = w.response.split('\r\n');
    assert.match(lines[0], /^HTTP\/1\.1 101 /);
    const h = Object.fromEntries(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    assert.equal(h['sec-websocket-accept'], w.expectedAccept);
    assert.equal(h['x-powered-by'], 'Laravel Reverb');
    assert.equal(h.upgrade?.toLowerCase(), 'websocket');
    assert.equal(h['sec-websocket-extensions'], undefined);
    assert.equal(h['sec-websocket-protocol'], undefined);
    const est = JSON.parse(await w.nextText());
    assert.equal(est.event, 'pusher:connection_established');
    w.destroy();
  });

  test('another method than GET on the WebSocket route gets Reverb\'s router answer: 405, Allow: GET, "Method not allowed."', async () => {
    // Reverb matches routes before any handshake check.
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await httpGet(server, `/app/${APP_A.key}?protocol=7`, { method });
      assert.deepEqual([r.status, r.headers.allow, r.text], [405, 'GET', 'Method not allowed.'], method);
    }
    const r = await rawHttp(server, [`POST /app/${APP_A.key}?protocol=7 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n`]);
    assert.deepEqual([r.status, r.headers.allow, r.body], [405, 'GET', 'Method not allowed.']);
  });

  test('extra leading slashes in the path (a proxy\'s //app/KEY) are ignored, as Reverb does', async () => {
    // Reverb rebuilds the URI as "/" . ltrim($path, "/"): a proxy that joins
    // its prefix with a slash of its own still reaches every route.
    const w = await WireSocket.open(APP_A.key, `//app/${APP_A.key}?protocol=7`);
    assert.match(w.response, /^HTTP\/1\.1 101 /);
    assert.equal(JSON.parse(await w.nextText()).event, 'pusher:connection_established');
    w.destroy();
    const up = await httpGet(server, '///up');
    assert.deepEqual([up.status, up.json], [200, { health: 'OK' }]);
    // The signature covers the path as Reverb sees it: one leading slash.
    const res = await api(server, APP_A, 'POST', `/apps/${APP_A.id}/events`, { prefix: '/', body: { name: 'e', channel: 'slashes', data: '{}' } });
    assert.deepEqual([res.status, res.text], [200, '{}']);
  });
});

describe('frames (§1.5)', () => {
  const violations = [
    ['unmasked frame', () => frame(1, '{"event":"pusher:ping"}', { mask: false }), 1002, 'Ratchet detected an incorrect frame mask'],
    ['RSV1 set', () => frame(1, '{"event":"pusher:ping"}', { rsv: 4 }), 1002, 'Ratchet detected an invalid reserve code'],
    ['reserved opcode 3', () => frame(3, 'x'), 1002, 'Ratchet detected an invalid OP code'],
    ['continuation without a message', () => frame(0, 'x'), 1002, 'Ratchet detected the first frame of a message was a continue'],
    ['text frame while a fragmented message is pending', () => Buffer.concat([frame(1, '{"event":', { fin: false }), frame(1, 'x')]), 1002, 'Ratchet detected invalid OP code when expecting continue frame'],
    ['invalid UTF-8 text', () => frame(1, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 1007, 'Ratchet detected an invalid UTF-8 payload'],
    ['ping frame longer than 125 bytes', () => frame(9, 'x'.repeat(126)), 1002, 'Ratchet detected a mismatch between final bit and indicated payload length'],
    ['close with a 1-byte payload', () => frame(8, Buffer.from([3])), 1002, 'Ratchet detected an invalid close code'],
    ['close with code 1005', () => frame(8, closePayload(1005)), 1002, 'Ratchet detected an invalid close code'],
    ['close reason not UTF-8', () => frame(8, Buffer.concat([closePayload(1000), Buffer.from([0xff])])), 1007, 'Ratchet detected an invalid UTF-8 payload in the close reason'],
    ['message above max_message_size', () => frame(1, 'x'.repeat(10001)), 1009, 'Maximum message size exceeded'],
  ];
  for (const [name, bytes, code, reason] of violations) {
    test(`${name} → close ${code} "${reason}"`, async () => {
      const w = await WireSocket.open();
      await w.nextText();
      w.write(bytes());
      await w.expectClose(code, reason);
    });
  }

  test('client close frame is echoed with the same code and reason', async () => {
    const w = await WireSocket.open();
    await w.nextText();
    w.write(frame(8, closePayload(4000, 'bye')));
    await w.expectClose(4000, 'bye');
  });

  test('empty client close frame is echoed as 1000', async () => {
    const w = await WireSocket.open();
    await w.nextText();
    w.write(frame(8, ''));
    await w.expectClose(1000, '');
  });

  test('fragmented text with an interleaved ping; binary messages work like text', async () => {
    const w = await WireSocket.open();
    await w.nextText();
    w.write(Buffer.concat([frame(1, '{"event":"pus', { fin: false }), frame(9, 'p1'), frame(0, 'her:ping"}')]));
    const pong = await w.next();
    assert.deepEqual([pong.opcode, pong.payload.toString()], [10, 'p1']);
    assert.equal(await w.nextText(), PONG);
    w.write(frame(2, '{"event":"pusher:ping"}'));
    assert.equal(await w.nextText(), PONG);
    w.destroy();
  });

  test('a message split across many TCP writes is reassembled', async () => {
    const w = await WireSocket.open();
    await w.nextText();
    const bytes = frame(1, JSON.stringify({ event: 'pusher:subscribe', data: { channel: 'wire-split' } }));
    for (const b of bytes) {
      w.write(Buffer.from([b]));
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(await w.nextText(), '{"event":"pusher_internal:subscription_succeeded","data":"{}","channel":"wire-split"}');
    w.destroy();
  });
});
