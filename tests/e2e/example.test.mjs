// The bundled example project (examples/laravel, what `make run` serves) works with the
// clients a fresh Laravel app uses: Echo connects, the pusher SDK broadcasts.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

import { echoClient, serverSdk, startServer, waitConnected } from './lib/harness.mjs';

const exampleDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples/laravel');

test('examples/laravel: Echo receives an event broadcast through the pusher SDK', async () => {
  // A copy, so the test never writes into the repository (cache files, logs).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reverb-example-'));
  fs.cpSync(exampleDir, dir, { recursive: true });
  const app = { id: '123456', key: 'reverb-key', secret: 'reverb-secret' };
  const project = { dir, apps: [app], path: '', cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
  const server = await startServer({ project });
  try {
    const echo = echoClient(server, app);
    await waitConnected(echo.connector.pusher);
    const got = new Promise((resolve) => {
      echo.channel('orders').listen('.OrderShipped', resolve).subscribed(async () => {
        const res = await serverSdk(server, app).trigger('orders', 'OrderShipped', { id: 1 });
        assert.equal(res.status, 200);
      });
    });
    assert.deepEqual(await got, { id: 1 });
    echo.disconnect();
  } finally {
    await server.stop();
    project.cleanup();
  }
});
