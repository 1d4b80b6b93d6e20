// Sign-in through a real Laravel app: the Laravel 11 app of ../shared/laravel (lib/laravel-app.mjs
// finds the tarball) unpacked into a temporary folder, with `Broadcast::userRoutes()` and
// `Broadcast::resolveAuthenticatedUserUsing()` in a provider, served by PHP's built-in server
// (what `php artisan serve` runs). pusher-js 8 signs in through its /broadcasting/user-auth route,
// in Node and in headless Chromium; events go to users through Laravel's own broadcaster
// connection with the real pusher/pusher-php-server (`sendToUser`, `terminateUserConnections`).
// The same app, set up as `php artisan install:broadcasting` leaves it, serves what a Laravel
// developer writes for Echo: routes/channels.php (private, presence, private-encrypted channels
// authorized by /broadcasting/auth), events with ShouldBroadcastNow / ShouldBroadcast, broadcastAs,
// broadcastWith, toOthers() with Echo's socket id, and a notification on the broadcast channel.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import Echo from 'laravel-echo';
import Pusher from 'pusher-js';

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

// What a developer writes for Echo (after php artisan install:broadcasting). The signed-in user
// comes from a header here (X-User), in a real app from the session.
const ECHO_FILES = {
  'app/Http/Middleware/HeaderUser.php': `<?php

namespace App\\Http\\Middleware;

use Illuminate\\Auth\\GenericUser;
use Illuminate\\Support\\Facades\\Auth;

class HeaderUser
{
    public function handle($request, $next)
    {
        if ($id = $request->header('X-User')) {
            Auth::setUser(new GenericUser(['id' => (int) $id, 'name' => ['', 'Alice', 'Bob', 'Carol'][(int) $id] ?? 'Someone']));
        }
        return $next($request);
    }
}
`,
  'routes/channels.php': `<?php

use Illuminate\\Support\\Facades\\Broadcast;

Broadcast::channel('App.Models.User.{id}', fn ($user, $id) => (int) $user->id === (int) $id);
Broadcast::channel('orders.{id}', fn ($user, $id) => (int) $id !== 13);
Broadcast::channel('room.{id}', fn ($user, $id) => (int) $id === 13 ? false : ['id' => $user->id, 'name' => $user->name]);
Broadcast::channel('secret', fn ($user) => true);
`,
  'app/Events/OrderShipped.php': `<?php

namespace App\\Events;

use Illuminate\\Broadcasting\\InteractsWithSockets;
use Illuminate\\Broadcasting\\PrivateChannel;
use Illuminate\\Contracts\\Broadcasting\\ShouldBroadcastNow;
use Illuminate\\Foundation\\Events\\Dispatchable;

class OrderShipped implements ShouldBroadcastNow
{
    use Dispatchable, InteractsWithSockets;

    public function __construct(public int $orderId, public string $note) {}

    public function broadcastOn(): array
    {
        return [new PrivateChannel('orders.'.$this->orderId)];
    }

    public function broadcastAs(): string
    {
        return 'order.shipped';
    }

    public function broadcastWith(): array
    {
        return ['id' => $this->orderId, 'note' => $this->note, 'lines' => [], 'total' => 1.0];
    }
}
`,
  'app/Events/RoomMessage.php': `<?php

namespace App\\Events;

use Illuminate\\Broadcasting\\InteractsWithSockets;
use Illuminate\\Broadcasting\\PresenceChannel;
use Illuminate\\Contracts\\Broadcasting\\ShouldBroadcast;
use Illuminate\\Foundation\\Events\\Dispatchable;

class RoomMessage implements ShouldBroadcast
{
    use Dispatchable, InteractsWithSockets;

    public function __construct(public int $room, public string $text) {}

    public function broadcastOn(): array
    {
        return [new PresenceChannel('room.'.$this->room)];
    }
}
`,
  'app/Events/SecretSent.php': `<?php

namespace App\\Events;

use Illuminate\\Broadcasting\\EncryptedPrivateChannel;
use Illuminate\\Contracts\\Broadcasting\\ShouldBroadcastNow;

class SecretSent implements ShouldBroadcastNow
{
    public function __construct(public string $secret) {}

    public function broadcastOn(): EncryptedPrivateChannel
    {
        return new EncryptedPrivateChannel('secret');
    }
}
`,
  'app/Models/Member.php': `<?php

namespace App\\Models;

use Illuminate\\Notifications\\Notifiable;

class Member
{
    use Notifiable;

    public function __construct(public int $id) {}

    public function receivesBroadcastNotificationsOn(): string
    {
        return 'App.Models.User.'.$this->id;
    }
}
`,
  'app/Notifications/Pinged.php': `<?php

namespace App\\Notifications;

use Illuminate\\Notifications\\Messages\\BroadcastMessage;
use Illuminate\\Notifications\\Notification;

class Pinged extends Notification
{
    public function __construct(public string $text) {}

    public function via($notifiable): array
    {
        return ['broadcast'];
    }

    public function toBroadcast($notifiable): BroadcastMessage
    {
        return new BroadcastMessage(['text' => $this->text]);
    }
}
`,
};
const ECHO_ROUTES = `
Route::post('/orders/{id}/ship', function ($id) {
    broadcast(new App\\Events\\OrderShipped((int) $id, request('note', '')))->toOthers();
});
Route::post('/rooms/{id}/messages', function ($id) {
    broadcast(new App\\Events\\RoomMessage((int) $id, request('text', '')))->toOthers();
});
Route::post('/secret', function () {
    broadcast(new App\\Events\\SecretSent(request('secret', '')));
});
Route::post('/users/{id}/ping', function ($id) {
    (new App\\Models\\Member((int) $id))->notify(new App\\Notifications\\Pinged(request('text', '')));
});
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

// Echo as a page of the app would configure it, signed in as user (X-User, see HeaderUser).
const echos = [];
function echoAs(user) {
  const e = new Echo({
    broadcaster: 'reverb', key: app.key, wsHost: '127.0.0.1', wsPort: server.port, forceTLS: false,
    enabledTransports: ['ws'], disableStats: true, Pusher,
    authEndpoint: `http://127.0.0.1:${httpPort}/broadcasting/auth`,
    auth: { headers: { 'X-User': String(user), Accept: 'application/json' } },
  });
  echos.push(e);
  return e;
}

async function post(route, body, socketId) {
  const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
  if (socketId) headers['X-Socket-ID'] = socketId;
  const r = await fetch(`http://127.0.0.1:${httpPort}${route}`, { method: 'POST', headers, body: JSON.stringify(body) });
  assert.equal(r.status, 200, `POST ${route}: ${(await r.text()).slice(0, 500)}`);
}

describe('a real Laravel app: sign-in through its route, Echo through its channels and events', { skip }, () => {
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
    artisan(['install:broadcasting', '--without-reverb', '--without-node', '--no-interaction']);
    for (const [rel, body] of Object.entries(ECHO_FILES)) {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), body);
    }
    fs.appendFileSync(path.join(dir, 'routes/web.php'), ECHO_ROUTES);
    const bootstrap = path.join(dir, 'bootstrap/app.php');
    fs.writeFileSync(bootstrap, fs.readFileSync(bootstrap, 'utf8').replace('->withMiddleware(function (Middleware $middleware) {',
      "$&\n        $middleware->web(append: [\\App\\Http\\Middleware\\HeaderUser::class]);\n        $middleware->validateCsrfTokens(except: ['*']);"));
    const broadcasting = path.join(dir, 'config/broadcasting.php');
    fs.writeFileSync(broadcasting, fs.readFileSync(broadcasting, 'utf8').replace("'useTLS' => env('REVERB_SCHEME', 'https') === 'https',",
      "$&\n                'encryption_master_key_base64' => env('REVERB_ENCRYPTION_MASTER_KEY'),"));
    fs.copyFileSync(path.join(here, '../node_modules/pusher-js/dist/web/pusher.min.js'), path.join(dir, 'public/pusher.min.js'));

    // The app's broadcaster talks to the server under test.
    const wsPort = await freePort();
    const env = path.join(dir, '.env');
    fs.writeFileSync(env, fs.readFileSync(env, 'utf8')
      .replace(/^REVERB_HOST=.*$/m, 'REVERB_HOST=127.0.0.1')
      .replace(/^REVERB_PORT=.*$/m, `REVERB_PORT=${wsPort}`)
      .replace(/^REVERB_SCHEME=.*$/m, 'REVERB_SCHEME=http')
      + `\nREVERB_ENCRYPTION_MASTER_KEY=${crypto.randomBytes(32).toString('base64')}\n`);
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
    for (const e of echos) e.disconnect();
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

  test('listen, toOthers, here/joining/leaving, whispers, encrypted payloads, notifications, 403 refusals', async () => {
    const [alice, bob, carol] = [echoAs(1), echoAs(2), echoAs(3)];
    const got = { 1: [], 2: [], 3: [] };
    for (const [u, e] of [[1, alice], [2, bob], [3, carol]]) await waitConnected(e.connector.pusher);
    const seen = (u, n) => () => got[u].length >= n;

    // Private channel, broadcastAs + broadcastWith, toOthers with the sender's X-Socket-ID.
    for (const [u, e] of [[1, alice], [2, bob]]) {
      e.private('orders.1').listen('.order.shipped', (d) => got[u].push(['order', d])).subscribed(() => got[u].push(['subscribed']));
    }
    const refused = [];
    carol.private('orders.13').error((err) => refused.push(err.status));
    carol.join('room.13').error((err) => refused.push(err.status));
    carol.private('App.Models.User.1').error((err) => refused.push(err.status));
    await waitFor(() => got[1].length === 1 && got[2].length === 1 && refused.length === 3, { timeout: 10000, message: 'orders.1 subscribed, three refusals' });
    assert.deepEqual(refused, [403, 403, 403]);
    await post('/orders/1/ship', { note: 'from Alice' }, alice.socketId());
    await post('/orders/1/ship', { note: 'from the server' });
    await waitFor(seen(2, 3), { timeout: 10000, message: 'Bob gets both orders' });
    await waitFor(seen(1, 2), { timeout: 10000, message: 'Alice gets the order she did not send' });
    const order = (note) => ['order', { id: 1, note, lines: [], total: 1 }];
    assert.deepEqual(got[2].slice(1), [order('from Alice'), order('from the server')]);
    assert.deepEqual(got[1].slice(1), [order('from the server')]);

    // Presence: here, joining, a whisper, a queued (ShouldBroadcast) event toOthers, leaving.
    got[1] = []; got[2] = [];
    const room = (u, e) => e.join('room.1')
      .here((m) => got[u].push(['here', m.map((x) => x.name).sort()]))
      .joining((m) => got[u].push(['joining', m]))
      .leaving((m) => got[u].push(['leaving', m]))
      .listen('RoomMessage', (d) => got[u].push(['message', d]))
      .listenForWhisper('typing', (d) => got[u].push(['typing', d]));
    const aliceRoom = room(1, alice);
    await waitFor(seen(1, 1), { timeout: 10000, message: 'Alice here' });
    room(2, bob);
    await waitFor(() => got[2].length === 1 && got[1].length === 2, { timeout: 10000, message: 'Bob here, Alice sees him join' });
    aliceRoom.whisper('typing', { name: 'Alice' });
    await waitFor(seen(2, 2), { timeout: 10000, message: 'the whisper' });
    await post('/rooms/1/messages', { text: 'hello' }, bob.socketId());
    await waitFor(seen(1, 3), { timeout: 10000, message: 'the room message' });
    bob.leave('room.1');
    await waitFor(seen(1, 4), { timeout: 10000, message: 'Bob leaves' });
    assert.deepEqual(got[1], [['here', ['Alice']], ['joining', { id: 2, name: 'Bob' }], ['message', { room: 1, text: 'hello' }], ['leaving', { id: 2, name: 'Bob' }]]);
    assert.deepEqual(got[2], [['here', ['Alice', 'Bob']], ['typing', { name: 'Alice' }]]);

    // private-encrypted: the shared secret comes from the app's encryption master key.
    got[1] = []; got[2] = [];
    for (const [u, e] of [[1, alice], [2, bob]]) {
      e.encryptedPrivate('secret').listen('SecretSent', (d) => got[u].push(['secret', d])).subscribed(() => got[u].push(['subscribed']));
    }
    await waitFor(() => got[1].length === 1 && got[2].length === 1, { timeout: 10000, message: 'encrypted subscriptions' });
    await post('/secret', { secret: 'psst é' });
    await waitFor(() => got[1].length === 2 && got[2].length === 2, { timeout: 10000, message: 'the decrypted event' });
    assert.deepEqual(got[1][1], ['secret', { secret: 'psst é' }]);
    assert.deepEqual(got[2][1], ['secret', { secret: 'psst é' }]);

    // A notification on the broadcast channel, on the user's private channel.
    got[1] = [];
    alice.private('App.Models.User.1').notification((n) => got[1].push(n)).subscribed(() => got[1].push('subscribed'));
    await waitFor(seen(1, 1), { timeout: 10000, message: 'the user channel' });
    await post('/users/1/ping', { text: 'ping!' });
    await waitFor(seen(1, 2), { timeout: 10000, message: 'the notification' });
    assert.equal(typeof got[1][1].id, 'string');
    assert.deepEqual({ ...got[1][1], id: '' }, { text: 'ping!', id: '', type: 'App\\Notifications\\Pinged' });

    // leaveChannel: nothing more on it (a later event on a channel Bob keeps is the barrier).
    bob.leaveChannel('private-orders.1');
    got[2] = [];
    await post('/orders/1/ship', { note: 'after Bob left' });
    await post('/secret', { secret: 'barrier' });
    const barrier = ['secret', { secret: 'barrier' }];
    await waitFor(() => got[2].length === 1 && got[1].length === 4, { timeout: 10000, message: 'the barrier' });
    assert.deepEqual(got[2], [barrier]);
    assert.deepEqual(got[1].slice(2), [order('after Bob left'), barrier]);
  });
});
