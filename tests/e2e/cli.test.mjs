// The command line as a new user meets it, with the real binary: help and exit codes, Artisan's
// global options, a wrong folder or a missing .env said first, what `config` and `doctor` report,
// what `start` warns about once (clients told the wrong scheme, options without effect, a cache
// store that cannot carry the restart flag, a Redis that does not answer), servers.reverb.options.tcp
// honoured, and --debug's close frames.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  APP_A, PORTABLE, REVERB_BIN, RawClient, createProject, freePort, httpGet, startServer, stopAll,
} from './lib/harness.mjs';

after(stopAll);

const COMMANDS = ['config', 'doctor', 'install', 'restart', 'start', 'status'];

/** Runs the binary; resolves {code, stdout, stderr}. */
function reverb(args, { cwd, env } = {}) {
  return new Promise((resolve) => {
    execFile(REVERB_BIN, args, { cwd, timeout: 30000, env: { ...cleanEnv(), ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

function cleanEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(REVERB_|REDIS_|APP_|CACHE_|DB_|PULSE_)/.test(k)) env[k] = v;
  }
  return env;
}

function tempDir(files = {}) {
  const dir = fs.mkdtempSync(path.join(process.env.REVERB_E2E_TMP || os.tmpdir(), 'reverb-cli-'));
  for (const [rel, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), body);
  }
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A project whose config/reverb.php has more servers.reverb.options than the harness writes. */
async function projectWithOptions(extraOptions, opts = {}) {
  const project = await createProject({ apps: [{ ...APP_A }], ...opts });
  const file = path.join(project.dir, 'config', 'reverb.php');
  const php = fs.readFileSync(file, 'utf8');
  const withOptions = php.replace(/('options' => \[\n\s+'tls' => [^\n]*,\n)/, `$1                ${extraOptions}\n`);
  assert.notEqual(withOptions, php, 'options not found in the generated config');
  fs.writeFileSync(file, withOptions);
  return project;
}

const count = (text, needle) => text.split(needle).length - 1;

test('reverb with no command prints the help and exits 2; --help and help exit 0', async () => {
  const none = await reverb([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /Usage:\n {2}reverb <command> \[options\]/);
  for (const c of COMMANDS) assert.match(none.stderr, new RegExp(`^  ${c} +\\S`, 'm'));
  for (const args of [['--help'], ['-h'], ['help']]) {
    const r = await reverb(args);
    assert.equal(r.code, 0, args.join(' '));
    assert.match(r.stdout, /Available commands:/);
    assert.doesNotMatch(r.stdout, /_worker/);
  }
  assert.match(none.stderr, /^ {2}version +Show the version/m);
  const version = await reverb(['--version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^reverb \S+\n/);
  const versionHelp = await reverb(['version', '--help']);
  assert.equal(versionHelp.code, 0);
  assert.match(versionHelp.stdout, /Usage:\n {2}reverb version \[options\]/);
  const unknown = await reverb(['serve']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "serve"/);
});

test('every command has the same written help: --long options, defaults, examples, no internals', async () => {
  for (const c of COMMANDS) {
    const r = await reverb([c, '--help']);
    assert.equal(r.code, 0, c);
    assert.equal(r.stderr, '');
    for (const want of ['Description:\n', `Usage:\n  reverb ${c} [options]`, '  -n, --no-interaction', '  -q, --quiet', '--ansi|--no-ansi',
      '-v|vv|vvv, --verbose', '--dir=DIR', '[default: .]', `Examples:\n  ./reverb ${c}`]) {
      assert.ok(r.stdout.includes(want), `${c} --help lacks ${JSON.stringify(want)}:\n${r.stdout}`);
    }
    assert.doesNotMatch(r.stdout, /Usage of|^\s+-[a-z]{2,}|ping-sweep|tests shorten/m, `${c} --help`);
  }
  const start = await reverb(['start', '--help']);
  assert.match(start.stdout, PORTABLE
    ? /--workers=N\s+Worker processes sharing the port.*\[default: 1, one server in this process\]/
    : /--workers=N\s+Worker processes sharing the port.*\[default: 1, one process uses every CPU, and the pool grows as workers fill\]/);
  const doctor = await reverb(['help', 'doctor']);
  assert.match(doctor.stdout, /--workers=N/);
  assert.doesNotMatch(doctor.stdout, /-workers reverb start/);
});

test('nonsense values are refused with the option named, exit 2, before anything starts', async () => {
  const project = await createProject();
  after(() => project.cleanup());
  for (const [args, want] of [
    [['start', '--workers=-3'], /^reverb start: --workers=-3: not a number of workers from 0 to 1024\n/],
    [['start', '--port', 'http'], /--port=http: not a port number \(0 to 65535\)/],
    [['start', '--drain-window=soon'], /--drain-window=soon: not a duration \(e\.g\. 10s, 500ms, 2m\)/],
    [['start', '--metrics=9100'], /--metrics=9100: not host:port/],
    [['start', '--jobs=2'], /unknown option --jobs/],
    [['doctor', '--workers', 'many'], /--workers=many: not a number of workers/],
    [['status', '--interval=-2s'], /--interval=-2s: negative/],
  ]) {
    const r = await reverb([...args, '--dir', project.dir]);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, want);
    assert.match(r.stderr, /Run 'reverb \w+ --help' for its options\./);
    assert.equal(r.stdout, '');
  }
});

test("Artisan's global options are accepted: a Forge or supervisor command line works", async () => {
  const server = await startServer({ apps: [{ ...APP_A }], workers: 1, args: ['--no-interaction', '-n', '--no-ansi', '-v', '--env=local'] });
  assert.equal((await httpGet(server, '/up')).status, 200);
  assert.match(server.output(), /1 worker ready in \d+ ms/);
  assert.doesNotMatch(server.output(), /\x1b\[/);
  await server.stop();
  // -q keeps only errors.
  const quiet = await startServer({ apps: [{ ...APP_A }], workers: 1, args: ['-q'] });
  assert.equal((await httpGet(quiet, '/up')).status, 200);
  assert.doesNotMatch(quiet.output(), /INFO|Starting server/);
  await quiet.stop();
  const project = await createProject();
  after(() => project.cleanup());
  const r = await reverb(['--no-interaction', 'restart', '-n', '--no-ansi', '-vvv', '--dir', project.dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /INFO {2}Broadcasting Reverb restart signal\.\n\n {3}file storage\/framework\/cache\/data\//);
});

test('outside a Laravel project every command says so first and exits 1; restart writes nothing', async () => {
  const dir = tempDir();
  for (const c of COMMANDS) {
    const r = await reverb([c, '--dir', dir]);
    assert.equal(r.code, 1, c);
    const text = r.stdout + r.stderr;
    assert.match(text, new RegExp(`No Laravel project in ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: there is no artisan file`), c);
    assert.match(text, /Run reverb from your Laravel project's root folder \(where artisan is\), or pass --dir=/, c);
  }
  // Run from inside the folder too (the usual ./reverb restart).
  const r = await reverb(['restart'], { cwd: dir });
  assert.equal(r.code, 1);
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('without .env the missing file is said first, then what follows from it', async () => {
  const dir = tempDir({ artisan: '#!/usr/bin/env php\n', '.env.example': 'APP_NAME=Laravel\n' });
  const start = await reverb(['start', '--dir', dir, '--workers=0']);
  assert.equal(start.code, 1);
  const envAt = start.stdout.indexOf(`No .env file in ${dir}`);
  const appIdAt = start.stdout.indexOf('missing app_id');
  assert.ok(envAt >= 0 && appIdAt > envAt, start.stdout);
  assert.match(start.stdout, /cp \.env\.example \.env && php artisan key:generate/);
  assert.match(start.stdout, /REVERB_APP_ID is not set in \.env or the environment: \.\/reverb install adds/);
  assert.doesNotMatch(start.stdout, /vendor\/laravel\/reverb\/config\/reverb\.php/);

  const restart = await reverb(['restart', '--dir', dir]);
  assert.equal(restart.code, 1);
  assert.ok(restart.stderr.indexOf('No .env file') < restart.stderr.indexOf('does not exist'), restart.stderr);
});

test('config prints what Laravel resolves where start refuses it, then the problems', async () => {
  const project = await createProject({ apps: [{ ...APP_A }] });
  after(() => project.cleanup());
  const file = path.join(project.dir, 'config', 'reverb.php');
  const php = fs.readFileSync(file, 'utf8');
  assert.ok(php.includes(`'app_id' => '${APP_A.id}'`), php);
  fs.writeFileSync(file, php.replace(`'app_id' => '${APP_A.id}'`, `'app_id' => null`));
  const r = await reverb(['config', '--dir', project.dir]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /config\('reverb'\), as Laravel resolves it\n/);
  assert.match(r.stdout, /^ {2}reverb\.apps\.apps\.0\.key +reverb-key$/m);
  assert.match(r.stdout, /^ {2}reverb\.apps\.apps\.0\.app_id +null$/m);
  assert.match(r.stdout, /^ {2}reverb\.apps\.apps\.0\.secret +re\*+et$/m);
  assert.match(r.stdout, /Problems\n {2}- reverb start refuses this configuration: config\/reverb\.php: reverb\.apps\.apps\.0: missing app_id/);
  const json = await reverb(['config', '--dir', project.dir, '--json=reverb.apps.apps.0.key']);
  assert.equal(json.code, 0);
  assert.equal(json.stdout, '"reverb-key"\n');
  // A usable config says telescope_ingest_interval has no effect.
  const ok = await createProject();
  after(() => ok.cleanup());
  const good = await reverb(['config', '--dir', ok.dir]);
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /telescope_ingest: +every 15s: no effect \(Telescope records inside PHP/);
});

test('doctor reads the restart flag where it lives: a missing SQLite file is a problem, exit 1', async () => {
  const project = await createProject({ env: { CACHE_STORE: 'database', DB_CONNECTION: 'sqlite' } });
  after(() => project.cleanup());
  const r = await reverb(['doctor', '--dir', project.dir, '--no-snippets']);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stdout, /PROBLEM {2}php artisan reverb:restart cannot reach this server: .*database\/database\.sqlite\] does not exist \(run php artisan migrate/);
  assert.doesNotMatch(r.stdout, /No problems found/);
  assert.doesNotMatch(r.stdout, /ephemeral ports/); // APP_ENV=local: a development machine
  // The file store: read, and said where.
  const fine = await createProject();
  after(() => fine.cleanup());
  const ok = await reverb(['doctor', '--dir', fine.dir]);
  assert.match(ok.stdout, /INFO {5}the restart flag is read from file storage\/framework\/cache\/data\//);
  assert.doesNotMatch(ok.stdout, /^\s+listen 8080;/m, 'nginx must not listen on the port the server uses');
});

test('start warns once when clients are told wss but the server is plain, naming the fix', async () => {
  const port = await freePort();
  const server = await startServer({
    port, workers: 2,
    apps: [{ ...APP_A, options: { host: 'localhost', port, scheme: 'https', useTLS: true } }],
    env: { REVERB_SCHEME: 'https', REVERB_PORT: port },
  });
  await server.waitForOutput(/workers ready/);
  const out = server.output();
  const warn = new RegExp(`WARN {2}Clients are told wss://localhost:${port} \\(REVERB_SCHEME=https, REVERB_PORT=${port}\\) but the server listens without TLS on port ${port}`);
  assert.match(out, warn);
  assert.match(out, /set REVERB_SCHEME=http for a plain connection, or put a TLS proxy in front/);
  assert.equal(count(out, 'Clients are told wss://'), 1);
  await server.stop();
});

test('servers.reverb.options.tcp: backlog and so_reuseport honoured, keys without effect named once', async () => {
  const project = await projectWithOptions("'tcp' => ['backlog' => 77, 'so_reuseport' => true, 'tcp_nodelay' => true], 'unix' => [],");
  after(() => project.cleanup());
  const port = await freePort();
  const a = await startServer({ project, port, workers: 2 });
  await a.waitForOutput(/workers ready/);
  const ss = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' });
  assert.match(ss, /LISTEN\s+\d+\s+77\s/, `backlog not 77:\n${ss}`);
  assert.equal(count(a.output(), 'servers.reverb.options keys without effect here: tcp.tcp_nodelay, unix'), 1, a.output());
  // so_reuseport: a second server binds the same port.
  const b = await startServer({ project, port, workers: 1 });
  assert.equal((await httpGet(b, '/up')).status, 200);
  await b.stop();
  await a.stop();

  const plain = await createProject();
  after(() => plain.cleanup());
  const c = await startServer({ project: plain, workers: 1 });
  const d = await startServer({ project: plain, port: c.port, workers: 1, expectFailure: true });
  assert.match(d.output(), /address already in use/);
  await c.stop();
});

test('--debug prints close frames readably, each close once', async () => {
  const server = await startServer({ apps: [{ ...APP_A }], workers: 1, debug: true });
  const c = await RawClient.connect(server, APP_A.key);
  c.close(1000, 'bye');
  await server.waitForOutput(/Connection Closed/);
  await server.waitForOutput(/Close 1000 \(normal closure\): bye/);
  const out = server.output();
  assert.equal(count(out, 'Close 1000'), 1, out);
  assert.doesNotMatch(out, /\u0003\u00e8/);
  // A close the server begins (unknown app) shows once too, the client's echo not again.
  const bad = await RawClient.connect(server, 'no-such-key', { expectEstablished: false });
  await bad.closed;
  await server.waitForOutput(/Close 4001 \(Pusher: do not reconnect\): Application does not exist/);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(count(server.output(), 'Close 4001'), 1, server.output());
  await server.stop();
});

test('a cache store that cannot carry the restart flag is said once, with its point made once', async () => {
  const server = await startServer({ apps: [{ ...APP_A }], workers: 1, env: { CACHE_STORE: 'array' } });
  await server.waitForOutput(/worker ready/);
  const out = server.output();
  assert.equal(out.match(/cache store \[array\]/gi).length, 1, out);
  assert.equal(count(out, 'cannot reach a running server'), 1, out);
  assert.doesNotMatch(out, /cannot carry the restart flag between processes/);
  await server.stop();
});

test('the Redis client\'s own log lines go through the server\'s log once, in its format', async () => {
  const closed = await freePort();
  const server = await startServer({ apps: [{ ...APP_A }], workers: 1, args: ['--restart-poll', '100ms'],
    env: { CACHE_STORE: 'redis', REDIS_HOST: '127.0.0.1', REDIS_PORT: closed } });
  await server.waitForOutput(/WARN {2}Redis client: connection pool: failed to dial after \d+ attempts: dial tcp 127\.0\.0\.1:\d+: connect: connection refused\./, 15000);
  await new Promise((r) => setTimeout(r, 1500)); // a dozen more polls fail meanwhile
  const out = server.output();
  assert.equal(count(out, 'Redis client: connection pool: failed to dial'), 1, out);
  assert.doesNotMatch(out, /pool\.go:\d+|^redis: /m);
  await server.stop();
});

test('install on Laravel 10 enables BroadcastServiceProvider as reverb:install does', async () => {
  const appPhp = "<?php\nreturn [\n    'providers' => [\n        App\\Providers\\AuthServiceProvider::class,\n        // App\\Providers\\BroadcastServiceProvider::class,\n    ],\n];\n";
  const dir = tempDir({
    artisan: '#!/usr/bin/env php\n',
    'composer.json': '{"require": {"laravel/framework": "^10.0"}}',
    '.env': 'APP_NAME=Laravel\nBROADCAST_DRIVER=log\n',
    'config/app.php': appPhp,
  });
  const r = await reverb(['install', '--dir', dir, '-n']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /config\/app\.php: enabled App\\Providers\\BroadcastServiceProvider/);
  const after = fs.readFileSync(path.join(dir, 'config', 'app.php'), 'utf8');
  assert.match(after, /^ {8}App\\Providers\\BroadcastServiceProvider::class,$/m);
  assert.doesNotMatch(after, /\/\/ App\\Providers\\BroadcastServiceProvider/);
  assert.match(fs.readFileSync(path.join(dir, '.env'), 'utf8'), /^BROADCAST_DRIVER=reverb$/m);
});
