// static/realtime/reconnect.js and auth.js: the reconnect backoff stays within its jitter
// bounds and cap, and the identity refresh is planned before the identity runs out.
import assert from "node:assert/strict";
import { test } from "node:test";

import { refreshDelay } from "../../static/realtime/auth.js";
import { DEFAULTS } from "../../static/realtime/options.js";
import { backoffDelay } from "../../static/realtime/reconnect.js";

test("the backoff doubles per attempt and its jitter keeps it within 50-100 %", () => {
  for (let attempt = 0; attempt < 6; attempt++) {
    const full = DEFAULTS.backoffBase * 2 ** attempt;
    assert.equal(backoffDelay(attempt, DEFAULTS, 0), full / 2);
    assert.equal(backoffDelay(attempt, DEFAULTS, 0.999_999), full);
    for (let i = 0; i < 50; i++) {
      const delay = backoffDelay(attempt, DEFAULTS, Math.random());
      assert.ok(delay >= full / 2 && delay <= full, `attempt ${attempt}: ${delay}`);
    }
  }
});

test("the backoff is capped at backoffMax, and a flood close waits at least floodBackoff", () => {
  assert.equal(backoffDelay(40, DEFAULTS, 0.999_999), DEFAULTS.backoffMax);
  assert.equal(backoffDelay(40, DEFAULTS, 0), DEFAULTS.backoffMax / 2);
  assert.equal(backoffDelay(0, DEFAULTS, 0.5, DEFAULTS.floodBackoff), DEFAULTS.floodBackoff);
});

test("the identity refresh comes when a fifth of its lifetime is left, at least 5 s ahead", () => {
  assert.equal(refreshDelay(3600, DEFAULTS), 2_880_000); // an hour: at 48 min
  assert.equal(refreshDelay(10, DEFAULTS), 5_000); // short: the margin wins
  assert.equal(refreshDelay(3, DEFAULTS), 0); // already inside the margin: now
  assert.equal(refreshDelay(undefined, DEFAULTS), null); // anonymous: nothing expires
});
