// static/realtime/client.js takes its close codes from the generated close-codes.js, and
// keeps the names existing callers use.
import assert from "node:assert/strict";
import { test } from "node:test";

import { CLOSE } from "../../static/realtime/client.js";
import { CLOSE_CODES } from "../../static/realtime/close-codes.js";

test("CLOSE carries every generated close code under its generated name", () => {
  for (const [name, code] of Object.entries(CLOSE_CODES)) assert.equal(CLOSE[name], code, name);
});

test("CLOSE keeps SLOW as the name of the slow-consumer code, and cannot be changed", () => {
  assert.equal(CLOSE.SLOW, CLOSE_CODES.SLOW_CONSUMER);
  assert.equal(CLOSE.SLOW, 4503);
  assert.equal(CLOSE.SERVER_ERROR, 1011);
  assert.ok(Object.isFrozen(CLOSE));
});
