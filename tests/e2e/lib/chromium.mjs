// Headless Chromium for end-to-end tests, driven over the DevTools protocol (CDP) with the `ws`
// package: Debian's `chromium` (scripts/install-test-deps.sh installs it), a fresh profile per
// browser, no Playwright.
//
// Exported API
//   chromiumPath()                        the chromium binary, or '' when not installed
//   launchChromium({timeout}) -> Promise<Browser>
//   Browser: {open(url) -> Promise<Page>, close()}
//   Page: {evaluate(expression) -> Promise<value> (awaits promises, returns by value),
//          waitFor(expression, {timeout, message}) -> Promise<value> (polls until truthy)}

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import WebSocket from 'ws';

export function chromiumPath() {
  for (const c of [process.env.CHROMIUM_BIN, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (c && fs.existsSync(c)) return c;
  }
  return '';
}

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--remote-debugging-port=0'];

export async function launchChromium({ timeout = 20000 } = {}) {
  const profile = fs.mkdtempSync(path.join(process.env.REVERB_E2E_TMP || os.tmpdir(), 'reverb-e2e-chromium-'));
  // Its own process group: closing kills the renderers and helpers too.
  const proc = spawn(chromiumPath(), [...FLAGS, `--user-data-dir=${profile}`, 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  const kill = () => { try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ } };
  process.once('exit', kill);
  let stderr = '';
  const endpoint = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`chromium did not start within ${timeout} ms:\n${stderr}`)), timeout);
    proc.stderr.on('data', (d) => {
      stderr += d;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
      if (m) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
    proc.on('exit', (code) => { clearTimeout(t); reject(new Error(`chromium exited ${code}:\n${stderr}`)); });
  }).catch((e) => { kill(); throw e; });
  const cdp = await CDP.connect(endpoint);
  return {
    async open(url) {
      const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' });
      const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
      await cdp.send('Page.enable', {}, sessionId);
      await cdp.send('Page.navigate', { url }, sessionId);
      return new Page(cdp, sessionId);
    },
    async close() {
      cdp.close();
      kill();
      process.removeListener('exit', kill);
      await new Promise((r) => (proc.exitCode !== null || proc.signalCode !== null ? r() : proc.once('exit', r)));
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

class Page {
  constructor(cdp, sessionId) {
    this.cdp = cdp;
    this.sessionId = sessionId;
  }

  async evaluate(expression) {
    const r = await this.cdp.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, this.sessionId);
    if (r.exceptionDetails) throw new Error(`page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value;
  }

  async waitFor(expression, { timeout = 10000, message = expression } = {}) {
    const deadline = performance.now() + timeout;
    for (;;) {
      let v;
      try { v = await this.evaluate(expression); } catch { /* the page is still loading */ }
      if (v) return v;
      if (performance.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting in the page for ${message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

// CDP is one DevTools WebSocket: requests by id, answers matched back.
class CDP {
  static connect(url) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      ws.once('open', () => resolve(new CDP(ws)));
      ws.once('error', reject);
    });
  }

  constructor(ws) {
    this.ws = ws;
    this.next = 1;
    this.pending = new Map();
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      const p = m.id && this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(new Error(`${p.method}: ${m.error.message}`));
      else p.resolve(m.result);
    });
    ws.on('close', () => {
      for (const p of this.pending.values()) p.reject(new Error('chromium closed the DevTools connection'));
      this.pending.clear();
    });
  }

  send(method, params = {}, sessionId) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  }

  close() { this.ws.close(); }
}
