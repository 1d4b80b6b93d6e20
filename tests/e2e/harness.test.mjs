// The harness itself: what its waits measure.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { waitFor } from './lib/harness.mjs';

test('waitFor measures its timeout on a monotonic clock: a wall-clock step forward does not end it early', async () => {
  const realNow = Date.now;
  const start = realNow();
  // The wall clock steps 20 s forward (NTP, a resumed VM) right after the wait begins.
  Date.now = () => realNow() + (realNow() - start > 10 ? 20000 : 0);
  try {
    let ready = false;
    setTimeout(() => { ready = true; }, 200);
    assert.equal(await waitFor(() => ready, { timeout: 2000, message: 'ready' }), true);
  } finally {
    Date.now = realNow;
  }
});
