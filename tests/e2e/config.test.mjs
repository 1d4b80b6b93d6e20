// The Laravel side seen end to end: app settings coming from `.env` through env() in
// config/reverb.php, the real environment winning over `.env`, CLI flags over config (§7.2),
// the startup line and --debug titles (§9).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { APP_A, RawClient, api, httpGet, php, pusherClient, startServer, waitConnected } from './lib/harness.mjs';
import { ERR, PONG } from './lib/frames.mjs';

const envApp = {
  id: php("env('REVERB_APP_ID')"),
  key: php("env('REVERB_APP_KEY')"),
  secret: php("env('REVERB_APP_SECRET')"),
  activity_timeout: php("env('REVERB_APP_ACTIVITY_TIMEOUT', 30)"),
  ping_interval: php("env('REVERB_APP_PING_INTERVAL', 60)"),
  max_message_size: php("env('REVERB_APP_MAX_MESSAGE_SIZE', 10_000)"),
  accept_client_events_from: php("env('REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM', 'members')"),
  rate_limiting: {
    enabled: php("env('REVERB_APP_RATE_LIMITING_ENABLED', false)"),
    max_attempts: php("env('REVERB_APP_RATE_LIMIT_MAX_ATTEMPTS', 60)"),
    decay_seconds: php("env('REVERB_APP_RATE_LIMIT_DECAY_SECONDS', 60)"),
    terminate_on_limit: php("env('REVERB_APP_RATE_LIMIT_TERMINATE', false)"),
  },
};
// What tests use to sign and connect (the values the .env below defines).
const creds = { id: '777777', key: 'env-key', secret: 'env-secret' };
const baseEnv = { REVERB_APP_ID: creds.id, REVERB_APP_KEY: creds.key, REVERB_APP_SECRET: creds.secret };

async function withServer(opts, fn) {
  const s = await startServer(opts);
  s.apps = [creds, ...s.apps.filter((a) => typeof a.key === 'string')];
  try {
    await fn(s);
  } finally {
    await s.stop();
  }
}

describe('config from .env and the environment', () => {
  test('app settings come from .env through env(); the startup line names host and port', async () => {
    await withServer({
      apps: [envApp],
      env: { ...baseEnv, REVERB_APP_ACTIVITY_TIMEOUT: 45, REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM: 'none', REVERB_APP_RATE_LIMITING_ENABLED: 'true', REVERB_APP_RATE_LIMIT_MAX_ATTEMPTS: 2 },
    }, async (s) => {
      // REVERB_HOST=localhost (the hostname) differs from the bind host: printed in parentheses.
      await s.waitForOutput(new RegExp(`Starting server on 127\\.0\\.0\\.1:${s.port} \\(localhost\\)`));
      const c = await RawClient.connect(s, creds.key);
      assert.equal(JSON.parse(JSON.parse(c.established).data).activity_timeout, 45);
      await c.subscribeOk('test-channel');
      c.send('{"event":"client-x","channel":"test-channel","data":{}}');
      await c.expectFrame(ERR.clientEventsDisabled);
      c.send('{"event":"pusher:ping"}');
      await c.expectFrame(ERR.rateLimited);
      c.close();
      const r = await api(s, creds, 'GET', `/apps/${creds.id}/connections`);
      assert.equal(r.status, 200, r.text);
    });
  });

  test('the real environment wins over .env; rate_limiting enabled "1" (a string) stays off', async () => {
    await withServer({
      apps: [envApp],
      env: { ...baseEnv, REVERB_APP_ACTIVITY_TIMEOUT: 45, REVERB_APP_RATE_LIMITING_ENABLED: 1, REVERB_APP_RATE_LIMIT_MAX_ATTEMPTS: 1 },
      processEnv: { REVERB_APP_ACTIVITY_TIMEOUT: '50' },
    }, async (s) => {
      const c = await RawClient.connect(s, creds.key);
      assert.equal(JSON.parse(JSON.parse(c.established).data).activity_timeout, 50);
      for (let i = 0; i < 3; i++) c.send('{"event":"pusher:ping"}');
      for (let i = 0; i < 3; i++) await c.expectFrame(PONG);
      c.close();
    });
  });

  test('REVERB_SERVER_PATH from .env, overridden by --path', async () => {
    await withServer({ apps: [envApp], env: { ...baseEnv }, path: 'from-env' }, async (s) => {
      assert.equal((await httpGet(s, '/from-env/up')).status, 200);
      const c = await RawClient.connect(s, creds.key);
      c.close();
      // pusher-js with wsPath, as Echo is configured behind a path prefix.
      const p = pusherClient(s, creds);
      try {
        await waitConnected(p);
      } finally {
        p.disconnect();
      }
    });
    await withServer({ apps: [envApp], env: { ...baseEnv }, path: 'from-env', cliPath: '/from-cli/' }, async (s) => {
      assert.equal((await httpGet(s, '/from-cli/up')).status, 200);
      assert.equal((await httpGet(s, '/from-env/up')).status, 404);
    });
  });

  test('a broken config/reverb.php fails the start with the file named', async () => {
    const s = await startServer({ reverbPhp: "<?php\n\nreturn [\n    'apps' => [\n", expectFailure: true });
    const { code } = await s.exited;
    assert.notEqual(code, 0);
    assert.match(s.output(), /reverb\.php/);
  });

  test('--debug prints the message stream with Reverb\'s titles', async () => {
    const s = await startServer({ debug: true });
    try {
      const c = await RawClient.connect(s, APP_A.key);
      await s.waitForOutput(/Connection Established/);
      await c.subscribeOk('debug-channel');
      await s.waitForOutput(/Message Received/);
      await s.waitForOutput(/Message Handled/);
      const r = await api(s, APP_A, 'POST', `/apps/${APP_A.id}/events`, { body: { name: 'Dbg', data: '{}', channel: 'debug-channel' } });
      assert.equal(r.status, 200);
      await c.next();
      await s.waitForOutput(/Broadcasting To/);
      c.close();
      await s.waitForOutput(/Connection Closed/);
    } finally {
      await s.stop();
    }
  });
});
