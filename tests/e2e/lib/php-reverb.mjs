// PHP Reverb itself (`php artisan reverb:start`) in an unpacked Laravel app, as an
// oracle for differential tests. startPhpReverb(dir, port, apps, {args, env}) resolves once it
// answers HTTP; the server object has the fields RawClient and api() use (port, host,
// path, apps, httpUrl, wsUrl, tail) and stop().

import { spawn } from 'node:child_process';

import { httpGet } from './harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The caller's environment without what would change the app's config. */
export function phpEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(REVERB_|REDIS_|APP_|CACHE_|DB_|PULSE_|BROADCAST_|SHELL_VERBOSITY)/.test(k)) continue;
    env[k] = v;
  }
  return env;
}

export async function startPhpReverb(dir, port, apps, { args = [], env = {}, readyTimeout = 30000 } = {}) {
  const proc = spawn('php', ['artisan', 'reverb:start', '--host=127.0.0.1', `--port=${port}`, ...args], { cwd: dir, env: { ...phpEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = [];
  proc.stdout.on('data', (d) => out.push(String(d)));
  proc.stderr.on('data', (d) => out.push(String(d)));
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const server = {
    proc, port, host: '127.0.0.1', path: '', apps,
    httpUrl: (p = '') => `http://127.0.0.1:${port}${p}`,
    wsUrl: (key) => `ws://127.0.0.1:${port}/app/${key}?protocol=7&client=js&version=8.6.0&flash=false`,
    output: () => out.join(''),
    tail: (n = 2000) => out.join('').slice(-n),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
  const deadline = performance.now() + readyTimeout;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`php artisan reverb:start exited:\n${server.tail()}`);
    try {
      // Reverb answers 404 on / (it has no /up): any HTTP answer means it is listening.
      const r = await httpGet(server, '/', { timeout: 500 });
      if (r.status) return server;
    } catch { /* not yet */ }
    if (performance.now() > deadline) {
      await server.stop();
      throw new Error(`php artisan reverb:start did not answer within ${readyTimeout / 1000} s:\n${server.tail()}`);
    }
    await sleep(100);
  }
}
