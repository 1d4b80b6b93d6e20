// Sign-in through a real Laravel app: the Laravel 11 app of ../shared/laravel (lib/laravel-app.mjs
// finds the tarball) unpacked into a temporary folder, with `Broadcast::userRoutes()` and
// `Broadcast::resolveAuthenticatedUserUsing()` in a provider, served by PHP's built-in server
// (what `php artisan serve` runs). pusher-js 8 signs in through its /broadcasting/user-auth route,
// in Node and in headless Chromium; events go to users through Laravel's own broadcaster
// connection with the real pusher/pusher-php-server (`sendToUser`, `terminateUserConnections`).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { freePort, httpGet, pusherClient, startServer, waitConnected, waitFor } from './lib/harness.mjs';
import { ENV_APP, laravelTarball } from './lib/laravel-app.mjs';
import { chromiumPath, launchChromium } from './lib/chromium.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const HOLD = 3000;

const tarball = laravelTarball();
const havePhp = spawnSync('php', ['-r', 'exit(extension_loaded("curl") && extension_loaded("mbstring") ? 0 : 1);']).status === 0;
const skip = !tarball ? 'the Laravel app tarball of ../shared/laravel is not there (set REVERB_GO_LARAVEL_TARBALL)'
  : !havePhp ? 'php with curl and mbstring not installed (scripts/install-test-deps.sh installs them)' : false;

// What an app adds for Pusher's user authentication: the route and the user payload (here the
// user comes from the request, in a real app from $request->user()).
const PROVIDER = `<?php

namespace App\\Providers;

use Illuminate\\Http\\Request;
use Illuminate\\Support\\Facades\\Broadcast;
use Illuminate\\Support\\ServiceProvider;

class ReverbUsersProvider extends ServiceProvider
{
    public function boot(): void
    {
        Broadcast::userRoutes();
        Broadcast::resolveAuthenticatedUserUsing(function (Request $request) {
            $id = (string) $request->input('user', '');
            if ($id === '') {
                return null;
            }
            return [
                'id' => $id,
                'user_info' => ['name' => 'User '.$id],
                'watchlist' => array_values(array_filter(explode(',', (string) $request->input('watch', '')))),
            ];
        });
    }
}
`;

// Events to users through the app's own broadcaster connection (config/broadcasting.php 'reverb').
const CONSOLE = `
Artisan::command('users:send {user} {event} {json}', function (string $user, string $event, string $json) {
    $pusher = Illuminate\\Support\\Facades\\Broadcast::connection()->getPusher();
    $this->line(json_encode($pusher->sendToUser($user, $event, json_decode($json, true))));
});
Artisan::command('users:terminate {user}', function (string $user) {
    $pusher = Illuminate\\Support\\Facades\\Broadcast::connection()->getPusher();
    $this->line(json_encode($pusher->terminateUserConnections($user)));
});
`;

// A page as a Laravel view would have it: pusher-js from the page, signing in through the route.
const PAGE = `<!doctype html>
<title>users</title>
<script src="/pusher.min.js"></script>
<script>
  const q = new URLSearchParams(location.search);
  window.got = [];
  window.errors = [];
  const pusher = new Pusher(q.get('key'), {
    cluster: '', wsHost: '127.0.0.1', wsPort: Number(q.get('port')), forceTLS: false,
    enabledTransports: ['ws'], disableStats: true,
    userAuthentication: { endpoint: '/broadcasting/user-auth', params: { user: q.get('user'), watch: q.get('watch') || '' } },
  });
  pusher.user.bind('greeting', (d) => got.push(['greeting', d]));
  pusher.user.watchlist.bind('online', (e) => got.push(['online', ...e.user_ids]));
  pusher.user.watchlist.bind('offline', (e) => got.push(['offline', ...e.user_ids]));
  pusher.connection.bind('error', (e) => errors.push(e));
  pusher.signin();
  window.pusher = pusher;
</script>
`;

const app = { ...ENV_APP, enable_watchlist_events: true };
let dir;
let httpPort;
let server;
const procs = [];
const clients = [];

function killGroups() {
  for (const p of procs) {
    try { process.kill(-p.pid, 'SIGKILL'); } catch { /* gone */ }
  }
}

function artisan(args) {
  const r = spawnSync('php', ['artisan', ...args], { cwd: dir, encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, `php artisan ${args.join(' ')}: ${r.stdout}\n${r.stderr}`);
  return r.stdout.trim();
}

const watched = (got) => got.filter(([n]) => n === 'online' || n === 'offline');

/** pusher-js in Node signing in through the Laravel route as user (watching watch). */
async function viaRoute(user, watch = []) {
  const p = pusherClient(server, app, {
    pusherOptions: {
      userAuthentication: {
        endpoint: `http://127.0.0.1:${httpPort}/broadcasting/user-auth`,
        params: { user, watch: watch.join(',') },
      },
    },
  });
  clients.push(p);
  p.got = [];
  p.user.bind('greeting', (d) => p.got.push(['greeting', d]));
  p.user.watchlist.bind('online', (e) => p.got.push(['online', ...e.user_ids]));
  p.user.watchlist.bind('offline', (e) => p.got.push(['offline', ...e.user_ids]));
  p.signin();
  await waitConnected(p);
  return p;
}

describe('sign-in through a real Laravel route', { skip }, () => {
  before(async () => {
    dir = fs.mkdtempSync(path.join(process.env.REVERB_E2E_TMP || os.tmpdir(), 'reverb-e2e-users-laravel-'));
    const un = spawnSync('tar', ['-xzf', tarball, '-C', dir]);
    assert.equal(un.status, 0, String(un.stderr));
    dir = path.join(dir, 'app');
    fs.writeFileSync(path.join(dir, 'app/Providers/ReverbUsersProvider.php'), PROVIDER);
    const providers = path.join(dir, 'bootstrap/providers.php');
    fs.writeFileSync(providers, fs.readFileSync(providers, 'utf8').replace('];', '    App\\Providers\\ReverbUsersProvider::class,\n];'));
    fs.appendFileSync(path.join(dir, 'routes/console.php'), CONSOLE);
    fs.writeFileSync(path.join(dir, 'public/users.html'), PAGE);
    fs.copyFileSync(path.join(here, '../node_modules/pusher-js/dist/web/pusher.min.js'), path.join(dir, 'public/pusher.min.js'));

    // The app's broadcaster talks to the server under test.
    const wsPort = await freePort();
    const env = path.join(dir, '.env');
    fs.writeFileSync(env, fs.readFileSync(env, 'utf8')
      .replace(/^REVERB_HOST=.*$/m, 'REVERB_HOST=127.0.0.1')
      .replace(/^REVERB_PORT=.*$/m, `REVERB_PORT=${wsPort}`)
      .replace(/^REVERB_SCHEME=.*$/m, 'REVERB_SCHEME=http'));
    server = await startServer({ apps: [app], port: wsPort });

    httpPort = await freePort();
    // Its own process group: PHP_CLI_SERVER_WORKERS forks workers, which must go with it.
    const php = spawn('php', ['-S', `127.0.0.1:${httpPort}`, '../vendor/laravel/framework/src/Illuminate/Foundation/resources/server.php'], {
      cwd: path.join(dir, 'public'), stdio: 'ignore', detached: true, env: { ...process.env, PHP_CLI_SERVER_WORKERS: '4' },
    });
    procs.push(php);
    process.once('exit', killGroups);
    await waitFor(async () => {
      try { return (await httpGet({ host: '127.0.0.1', port: httpPort, path: '' }, '/up', { timeout: 1000 })).status === 200; } catch { return false; }
    }, { timeout: 20000, message: 'the Laravel app under php -S' });
  });

  after(async () => {
    for (const p of clients) p.disconnect();
    killGroups();
    await server?.stop();
    if (dir && !process.env.REVERB_E2E_KEEP) fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  });

  test('pusher-js signs in with what Laravel signs; sendToUser and terminate from pusher-php-server; watchlists', async () => {
    const watcher = await viaRoute('1', ['7', '8']);
    await waitFor(() => watched(watcher.got).length === 1, { timeout: 10000, message: 'initial watchlist status' });
    assert.deepEqual(watcher.got, [['offline', '7', '8']]);
    assert.deepEqual(watcher.user.user_data, { id: '1', user_info: { name: 'User 1' }, watchlist: ['7', '8'] });

    const seven = await viaRoute('7');
    await waitFor(() => watcher.got.length === 2, { timeout: 10000, message: 'user 7 online' });
    assert.deepEqual(watcher.got[1], ['online', '7']);
    await waitFor(() => seven.user.serverToUserChannel?.subscribed, { message: 'user 7 on its channel' });

    const out = JSON.parse(artisan(['users:send', '7', 'greeting', '{"text":"hello from Laravel"}']));
    assert.deepEqual(out, {});
    await waitFor(() => seven.got.length === 1, { timeout: 10000, message: 'the greeting' });
    assert.deepEqual(seven.got, [['greeting', { text: 'hello from Laravel' }]]);
    assert.deepEqual(watcher.got.filter(([n]) => n === 'greeting'), []);

    // The route refuses (403): pusher-js reports a signin error and stays connected unsigned.
    const nobody = pusherClient(server, app, {
      pusherOptions: { userAuthentication: { endpoint: `http://127.0.0.1:${httpPort}/broadcasting/user-auth` } },
    });
    clients.push(nobody);
    const refused = new Promise((r) => nobody.user.bind('pusher:signin_error', r));
    nobody.signin();
    assert.equal((await refused).status, 403);
    assert.equal(nobody.connection.state, 'connected');

    artisan(['users:terminate', '7']);
    await waitFor(() => seven.connection.state !== 'connected', { timeout: 10000, message: 'user 7 terminated' });
    await waitFor(() => watcher.got.length === 3, { timeout: HOLD + 10000, message: 'user 7 offline' });
    assert.deepEqual(watcher.got[2], ['offline', '7']);
  });

  test('in headless Chromium: a page signs in through the route and gets its user events', {
    skip: chromiumPath() ? false : 'chromium not installed (scripts/install-test-deps.sh installs it)',
  }, async () => {
    const watcher = await viaRoute('2', ['9']);
    await waitFor(() => watched(watcher.got).length === 1, { timeout: 10000, message: 'initial status' });
    const browser = await launchChromium();
    try {
      const page = await browser.open(`http://127.0.0.1:${httpPort}/users.html?key=${app.key}&port=${server.port}&user=9&watch=2`);
      await page.waitFor('window.pusher && pusher.user.user_data && pusher.user.user_data.id === "9"', { timeout: 15000, message: 'signed in as 9' });
      await page.waitFor('got.length === 1', { message: 'the watchlist status' });
      assert.deepEqual(await page.evaluate('got'), [['online', '2']]);
      await waitFor(() => watcher.got.length === 2, { timeout: 10000, message: 'the page\'s user online' });
      assert.deepEqual(watcher.got[1], ['online', '9']);
      await page.waitFor('pusher.user.serverToUserChannel && pusher.user.serverToUserChannel.subscribed', { message: 'the user channel' });
      artisan(['users:send', '9', 'greeting', '{"from":"Chromium test é"}']);
      await page.waitFor('got.length === 2', { message: 'the greeting in the page' });
      assert.deepEqual(await page.evaluate('got[1]'), ['greeting', { from: 'Chromium test é' }]);
      assert.deepEqual(await page.evaluate('errors'), []);
    } finally {
      await browser.close();
    }
    await waitFor(() => watcher.got.length === 3, { timeout: HOLD + 10000, message: 'the page closed: user 9 offline' });
    assert.deepEqual(watcher.got[2], ['offline', '9']);
  });
});
