// A real Laravel app for end-to-end tests of the companion package: the
// Laravel 11 + Reverb 1.10.2 application tarball (never copied into this
// repository) unpacked into a temporary folder, with the companion package
// installed by Composer from this repository (path repository, offline) and
// the test fixtures of companion/tests/Fixtures added. Servers are started
// the way users start them: `php artisan reverb:start`.
//
// Exported API
//   laravelTarball()                       path of the tarball, or '' (env REVERB_GO_LARAVEL_TARBALL)
//   laravelMissing({bins})                 why the app cannot be prepared here, or '': the
//                                          tarball, the commands bins (default php, composer,
//                                          tar), the binary
//   unpackLaravelApp(prefix) -> Promise<{root, dir, cleanup()}>
//                                          the tarball as it is, unpacked into a new folder
//                                          prefix* (env REVERB_E2E_TMP, else the OS temp
//                                          dir); dir = root/app; cleanup() keeps it with
//                                          REVERB_E2E_KEEP
//   prepareLaravelApp() -> Promise<LaravelApp>
//   LaravelApp: {dir, app (the .env app, harness shape), cleanup(),
//                artisan(args, {env, timeout}) -> Promise<{code, stdout, stderr}>,
//                write(rel, contents), read(rel), env (extra real environment for every process)}
//   startArtisanServer(laravel, {port, args, env, readyTimeout}) -> Promise<ArtisanServer>
//       runs `php artisan reverb:start --host=127.0.0.1 --port=N ...args` and waits for /up.
//   ArtisanServer: the harness's server shape (host, port, path, apps, httpUrl, wsUrl, app(),
//       output(), tail(), waitForOutput(), stop()), plus proc.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { REVERB_BIN, freePort, httpGet } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const TARBALL = 'laravel-11.33.2-reverb-1.10.2.tar.gz';

// The app's .env (what php artisan reverb:install left in the tarball).
export const ENV_APP = Object.freeze({
  id: '473820', key: 'w1mhnp0sxbeqkdfnrh2l', secret: 'yrdv5qzxhjpc1y0wqn7k',
  allowed_origins: ['*'], ping_interval: 60, activity_timeout: 30, max_message_size: 10000,
});

export function laravelTarball() {
  const candidates = [
    process.env.REVERB_GO_LARAVEL_TARBALL,
    path.resolve(repo, '../shared/laravel', TARBALL),
    path.resolve(repo, '../../shared/laravel', TARBALL),
    path.join('/work/shared/laravel', TARBALL),
  ].filter(Boolean);
  return candidates.find((c) => fs.existsSync(c)) ?? '';
}

function which(bin) {
  return (process.env.PATH ?? '').split(path.delimiter).some((d) => d && fs.existsSync(path.join(d, bin)));
}

export function laravelMissing({ bins = ['php', 'composer', 'tar'] } = {}) {
  if (!laravelTarball()) return `the Laravel test app (${TARBALL}) was not found; set REVERB_GO_LARAVEL_TARBALL`;
  for (const bin of bins) {
    if (!which(bin)) return `${bin} is not installed (scripts/install-test-deps.sh)`;
  }
  if (!fs.existsSync(REVERB_BIN)) return `reverb binary not found at ${REVERB_BIN} (run make build)`;
  return '';
}

// Variables of the test runner's own environment that would change what
// Laravel or reverb read.
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(REVERB_|REDIS_|APP_|CACHE_|DB_|PULSE_|BROADCAST_|FIXTURE_|SHELL_VERBOSITY)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

function run(cmd, args, { cwd, env, timeout = 120000 } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, env: env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), timeout);
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ code: code ?? 128, signal, stdout, stderr });
    });
  });
}

async function must(cmd, args, opts) {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

export async function unpackLaravelApp(prefix) {
  const base = process.env.REVERB_E2E_TMP || os.tmpdir();
  fs.mkdirSync(base, { recursive: true });
  const root = fs.mkdtempSync(path.join(base, prefix));
  await must('tar', ['-xzf', laravelTarball(), '-C', root]);
  return {
    root,
    dir: path.join(root, 'app'),
    cleanup() {
      if (!process.env.REVERB_E2E_KEEP) fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

export async function prepareLaravelApp() {
  const { dir, cleanup } = await unpackLaravelApp('reverb-e2e-laravel-');
  const composerEnv = cleanEnv({ COMPOSER_DISABLE_NETWORK: '1', COMPOSER_ALLOW_SUPERUSER: '1', COMPOSER_NO_AUDIT: '1' });
  const composer = ['--no-interaction', '--no-ansi', `--working-dir=${dir}`];
  await must('composer', [...composer, 'config', 'repositories.vendored', JSON.stringify({ type: 'composer', url: `file://${dir}/.composer-local` })], { env: composerEnv });
  await must('composer', [...composer, 'config', 'repositories.reverb-go', JSON.stringify({ type: 'path', url: path.join(repo, 'companion') })], { env: composerEnv });
  await must('composer', [...composer, 'require', 'reverb-go/laravel:@dev'], { env: composerEnv });
  fs.cpSync(path.join(repo, 'companion/tests/Fixtures/app/ReverbGoFixtures'), path.join(dir, 'app/ReverbGoFixtures'), { recursive: true });
  const providers = path.join(dir, 'bootstrap/providers.php');
  fs.writeFileSync(providers, fs.readFileSync(providers, 'utf8').replace('];', '    App\\ReverbGoFixtures\\FixtureServiceProvider::class,\n];'));

  const laravel = {
    dir,
    app: { ...ENV_APP },
    env: {},
    cleanup,
    write(rel, contents) {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), contents);
    },
    read(rel) {
      try { return fs.readFileSync(path.join(dir, rel), 'utf8'); } catch { return ''; }
    },
    artisan(args, { env = {}, timeout } = {}) {
      return run('php', ['artisan', ...args], { cwd: dir, env: cleanEnv({ ...laravel.env, ...env }), timeout });
    },
  };
  // The binary under test: the package's "binary" setting, as a user with
  // a binary of their own would set it.
  fs.appendFileSync(path.join(dir, '.env'), `REVERB_GO_BINARY=${REVERB_BIN}\n`);
  return laravel;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class ArtisanServer {
  constructor(proc, port, laravel, apps) {
    this.proc = proc;
    this.port = port;
    this.host = '127.0.0.1';
    this.path = '';
    this.laravel = laravel;
    this.apps = apps;
    this.out = [];
    this.listeners = new Set();
    const collect = (d) => {
      this.out.push(d.toString());
      for (const l of this.listeners) l();
    };
    proc.stdout.on('data', collect);
    proc.stderr.on('data', collect);
    this.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  }

  output() { return this.out.join(''); }

  tail(n = 3000) {
    const o = this.output();
    return o.length > n ? '…' + o.slice(-n) : o;
  }

  httpUrl(p = '') { return `http://${this.host}:${this.port}${p}`; }

  wsUrl(key, { path: p = this.path, query = 'protocol=7&client=js&version=8.6.0&flash=false' } = {}) {
    return `ws://${this.host}:${this.port}${p}/app/${key}${query ? '?' + query : ''}`;
  }

  app(which) {
    const a = this.apps.find((x) => x.id === which || x.key === which);
    if (!a) throw new Error(`no app ${which}`);
    return a;
  }

  async waitForOutput(re, timeout = 15000) {
    if (re.test(this.output())) return;
    await new Promise((resolve, reject) => {
      const l = () => {
        if (re.test(this.output())) {
          clearTimeout(timer);
          this.listeners.delete(l);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        this.listeners.delete(l);
        reject(new Error(`timed out waiting for ${re} in the output of php artisan reverb:start:\n${this.tail()}`));
      }, timeout);
      this.listeners.add(l);
    });
  }

  async stop({ signal = 'SIGTERM', timeout = 15000 } = {}) {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill(signal);
      const t = setTimeout(() => this.proc.kill('SIGKILL'), timeout);
      const res = await this.exited;
      clearTimeout(t);
      return res;
    }
    return this.exited;
  }
}

export async function startArtisanServer(laravel, { port, args = [], env = {}, apps, readyTimeout = 30000, expectFailure = false } = {}) {
  port = port ?? await freePort();
  const proc = spawn('php', ['artisan', 'reverb:start', '--host=127.0.0.1', `--port=${port}`, ...args], {
    cwd: laravel.dir,
    env: cleanEnv({ ...laravel.env, ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const server = new ArtisanServer(proc, port, laravel, apps ?? [laravel.app]);
  if (expectFailure) {
    await server.exited;
    return server;
  }
  let exited = false;
  server.exited.then(() => { exited = true; });
  const deadline = performance.now() + readyTimeout;
  for (;;) {
    if (exited) throw new Error(`php artisan reverb:start exited (${JSON.stringify(await server.exited)}) before answering /up:\n${server.tail()}`);
    try {
      const r = await httpGet(server, '/up', { timeout: 500 });
      if (r.status === 200 && !exited) return server;
    } catch { /* not yet */ }
    if (performance.now() > deadline) {
      await server.stop({ signal: 'SIGKILL' });
      throw new Error(`php artisan reverb:start did not answer /up within ${readyTimeout} ms:\n${server.tail()}`);
    }
    await sleep(50);
  }
}
