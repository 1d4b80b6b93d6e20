// `reverb start` under a low open-files limit (`ulimit -n`, soft and hard), for the tests of what
// happens at the limit (cli-limits.test.mjs) and of the worker pool growing past it
// (capacity.test.mjs).
import { execFile, spawn } from 'node:child_process';
import http from 'node:http';

import { REVERB_BIN, waitFor } from './harness.mjs';

/** The test process's environment without the settings a project's .env must decide. */
export function cleanEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(REVERB_|REDIS_|APP_|CACHE_|DB_|PULSE_)/.test(k)) env[k] = v;
  }
  return env;
}

/** Runs a command to its end: {code, stdout, stderr}. */
export function run(cmd, args, { cwd, timeout = 20000 } = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, timeout }, (err, stdout, stderr) => resolve({ code: err ? err.code ?? 1 : 0, stdout, stderr }));
  });
}

/** A GET to 127.0.0.1:port: {status, text}. */
export function get(port, p, timeout = 5000) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false, timeout }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/**
 * Starts `reverb <args>` in project.dir under `ulimit -n limit` and waits until /up answers and
 * the log says its workers are ready (with `workersReady`). The server is added to `running`.
 */
export async function startLimited({ project, port, metricsPort, args, limit, running, workersReady = true, readyTimeout = 20000 }) {
  const proc = spawn('bash', ['-c', `ulimit -n ${limit} && exec "$0" "$@"`, REVERB_BIN, ...args],
    { cwd: project.dir, stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv() });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const server = {
    proc, port, metricsPort, project, exited, host: '127.0.0.1', path: '', apps: project.apps, output: () => out,
    wsUrl: (key) => `ws://127.0.0.1:${port}/app/${key}?protocol=7&client=js&version=8.6.0&flash=false`,
  };
  running.add(server);
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`reverb exited:\n${out}`);
    return (await get(port, '/up').catch(() => ({}))).status === 200 && (!workersReady || /workers? ready/.test(out));
  }, { timeout: readyTimeout, message: 'server ready' });
  return server;
}

/** SIGTERM, SIGKILL after killAfter ms, then the project is removed. */
export async function stopLimited(server, running, killAfter = 8000) {
  if (!running.delete(server)) return;
  if (server.proc.exitCode === null && server.proc.signalCode === null) {
    server.proc.kill('SIGTERM');
    const t = setTimeout(() => server.proc.kill('SIGKILL'), killAfter);
    await server.exited;
    clearTimeout(t);
  }
  server.project.cleanup();
}
