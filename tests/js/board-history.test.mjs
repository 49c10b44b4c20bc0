// Undo/redo (static/app/board-history.js): versioned steps on the same shape id.
import assert from "node:assert/strict";
import { test } from "node:test";

import { History } from "../../static/app/board-history.js";

const rect = { id: "r1", kind: "rect", data: { x: 1, y: 2, w: 30, h: 40, color: "#123456", width: 3 } };
const fail = (code) => async () => { throw Object.assign(new Error(code), { code }); };

test("undoing an erase redraws the same id at the version the erase reported", async () => {
  const history = new History();
  history.record("erase", rect, 4);
  const steps = [];
  assert.equal(await history.undo(async (step) => { steps.push(step); return 5; }), true);
  assert.deepEqual(steps, [{ action: "draw", shape: { id: "r1", kind: "rect", data: rect.data, version: 4 } }]);
  // Redo erases it again, at the version the redraw gave it.
  await history.redo(async (step) => { steps.push(step); return 6; });
  assert.deepEqual(steps[1], { action: "erase", id: "r1", version: 5 });
  await history.undo(async (step) => { steps.push(step); return 7; });
  assert.deepEqual(steps[2].shape.version, 6);
});

test("undoing a draw erases it at the drawn version; redo redraws the same id", async () => {
  const history = new History();
  history.record("draw", rect, 1);
  const steps = [];
  await history.undo(async (step) => { steps.push(step); return 2; });
  await history.redo(async (step) => { steps.push(step); return 3; });
  assert.deepEqual(steps, [
    { action: "erase", id: "r1", version: 1 },
    { action: "draw", shape: { id: "r1", kind: "rect", data: rect.data, version: 2 } },
  ]);
  assert.equal(history.canUndo, true);
  assert.equal(history.canRedo, false);
});

test("recorded data is a copy: later edits of the caller's shape change nothing", async () => {
  const history = new History();
  const shape = structuredClone(rect);
  history.record("draw", shape, 1);
  shape.data.x = 999;
  const steps = [];
  await history.undo(async () => 2);
  await history.redo(async (step) => { steps.push(step); return 3; });
  assert.equal(steps[0].shape.data.x, 1);
});

test("a step refused for good (conflict) is dropped; a transient failure keeps it", async () => {
  const history = new History();
  history.record("draw", rect, 1);
  await assert.rejects(history.undo(fail("timeout")), { code: "timeout" });
  assert.equal(history.canUndo, true);
  await assert.rejects(history.undo(fail("conflict")), { code: "conflict" });
  assert.equal(history.canUndo, false);
  assert.equal(history.canRedo, false);
});

test("nothing to undo resolves false without calling perform", async () => {
  const history = new History();
  assert.equal(await history.undo(fail("never")), false);
  assert.equal(await history.redo(fail("never")), false);
});

test("steps run one at a time, in the order asked", async () => {
  const history = new History();
  history.record("draw", { ...rect, id: "a" }, 1);
  history.record("draw", { ...rect, id: "b" }, 1);
  const log = [];
  let release;
  const gate = new Promise((resolve) => { release = resolve; });
  const first = history.undo(async (step) => { log.push(`start ${step.id}`); await gate; log.push(`end ${step.id}`); return 2; });
  const second = history.undo(async (step) => { log.push(`start ${step.id}`); return 2; });
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(log, ["start b"]);
  release();
  await Promise.all([first, second]);
  assert.deepEqual(log, ["start b", "end b", "start a"]);
});

test("a new change clears redo; clear() forgets everything; the limit holds", async () => {
  const history = new History({ limit: 2 });
  let changes = 0;
  history.onChange = () => { changes += 1; };
  history.record("draw", { ...rect, id: "a" }, 1);
  await history.undo(async () => 2);
  assert.equal(history.canRedo, true);
  history.record("draw", { ...rect, id: "b" }, 1);
  assert.equal(history.canRedo, false);
  history.record("draw", { ...rect, id: "c" }, 1);
  history.record("draw", { ...rect, id: "d" }, 1);
  assert.deepEqual(history.undoStack.map((e) => e.shape.id), ["c", "d"]);
  history.clear();
  assert.equal(history.canUndo, false);
  assert.ok(changes > 0);
});
