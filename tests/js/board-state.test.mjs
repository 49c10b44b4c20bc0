// The whiteboard's pure state (static/app/board-state.js): snapshot buffering and retries.
import assert from "node:assert/strict";
import { test } from "node:test";

import { BoardState, loadSnapshot, snapshotRetryDelay, SNAPSHOT_RETRY_MAX_MS } from "../../static/app/board-state.js";

const shape = (id, version = 1, z = 1) => ({ id, kind: "line", data: { points: [[0, 0], [10, 10]], color: "#111111", width: 2 }, z, version });
const ev = (seq) => ({ seq });

test("durable events wait for the snapshot; those it already holds are dropped, later ones applied", () => {
  const state = new BoardState();
  state.onEvent("board.shape", { shape: shape("a") }, ev(5));
  state.onEvent("board.shape", { shape: shape("b") }, ev(6));
  state.onEvent("board.erased", { id: "a", version: 2 }, ev(7));
  assert.equal(state.shapes.size, 0);
  assert.equal(state.applySnapshot({ shapes: [shape("a")], seq: 5 }), true);
  assert.deepEqual([...state.shapes.keys()], ["b"]);
  assert.equal(state.buffered.length, 0);
  state.onEvent("board.shape", { shape: shape("c") }, ev(8));
  assert.ok(state.shapes.has("c"), "after the snapshot events apply at once");
});

test("others' strokes in progress show before the snapshot and are replaced by their shape", () => {
  const state = new BoardState();
  state.onEvent("board.stroke", { id: "s", points: [[1, 1], [2, 2]], color: "#ABCDEF" }, ev(null), 0);
  assert.equal(state.live.get("s").data.color, "#abcdef");
  state.onEvent("board.stroke", { id: "s", points: [[3, 3]], color: "url(evil)" }, ev(null), 10);
  assert.equal(state.live.get("s").data.points.length, 3);
  assert.equal(state.live.get("s").data.color, "#abcdef", "a bad colour never replaces a good one");
  state.applySnapshot({ shapes: [{ ...shape("s"), kind: "stroke" }], seq: 1 });
  assert.equal(state.live.size, 0);
});

test("a stale version of a shape never replaces a newer one", () => {
  const state = new BoardState();
  state.applySnapshot({ shapes: [shape("a", 3)], seq: 1 });
  assert.equal(state.applyShape(shape("a", 2)), false);
  assert.equal(state.shapes.get("a").version, 3);
  assert.equal(state.applyShape(shape("a", 4)), true);
});

test("board.cleared empties the board and says so", () => {
  const state = new BoardState();
  state.applySnapshot({ shapes: [shape("a"), shape("b")], seq: 1 });
  assert.deepEqual(state.onEvent("board.cleared", {}, ev(2)), { changed: true, cleared: true });
  assert.equal(state.shapes.size, 0);
});

test("a failed snapshot is retried, and the events that came meanwhile are shown", async () => {
  const state = new BoardState();
  const failures = [];
  const sleeps = [];
  let calls = 0;
  const fetch = async () => {
    calls += 1;
    if (calls === 1) {
      // While the first request fails, others keep drawing.
      state.onEvent("board.shape", { shape: shape("during", 1, 2) }, ev(11));
      throw Object.assign(new Error("boom"), { code: "internal" });
    }
    return { shapes: [shape("old")], seq: 10 };
  };
  const done = await loadSnapshot(state, fetch, { onFailure: (err, delay) => failures.push([err.code, delay]), sleep: async (ms) => { sleeps.push(ms); } });
  assert.equal(done, true);
  assert.equal(calls, 2);
  assert.deepEqual(failures, [["internal", 1000]]);
  assert.deepEqual(sleeps, [1000]);
  assert.equal(state.ready, true);
  assert.deepEqual(state.ordered().map((s) => s.id), ["old", "during"]);
  state.onEvent("board.erased", { id: "old", version: 2 }, ev(12));
  assert.deepEqual([...state.shapes.keys()], ["during"], "not buffering any more");
});

test("retry delays double up to a ceiling", () => {
  assert.deepEqual([0, 1, 2, 3].map(snapshotRetryDelay), [1000, 2000, 4000, 8000]);
  assert.equal(snapshotRetryDelay(50), SNAPSHOT_RETRY_MAX_MS);
});

test("a load replaced by a newer one stops retrying", async () => {
  const state = new BoardState();
  let current = true;
  let calls = 0;
  const fetch = async () => { calls += 1; throw new Error("down"); };
  const done = await loadSnapshot(state, fetch, { isCurrent: () => current, sleep: async () => { current = false; } });
  assert.equal(done, false);
  assert.equal(calls, 1);
});

test("the buffer is bounded, and a snapshot older than what it dropped is fetched again", async () => {
  const state = new BoardState({ bufferLimit: 3 });
  for (let seq = 1; seq <= 5; seq++) state.onEvent("board.shape", { shape: shape(`s${seq}`) }, ev(seq));
  assert.equal(state.buffered.length, 3);
  assert.equal(state.droppedThrough, 2);
  assert.equal(state.applySnapshot({ shapes: [], seq: 1 }), false, "misses event 2");
  assert.equal(state.ready, false);
  const snaps = [{ shapes: [shape("s1")], seq: 1 }, { shapes: [shape("s1"), shape("s2"), shape("s3")], seq: 3 }];
  assert.equal(await loadSnapshot(state, async () => snaps.shift()), true);
  assert.deepEqual([...state.shapes.keys()].sort(), ["s1", "s2", "s3", "s4", "s5"]);
});

test("strokes without news go stale", () => {
  const state = new BoardState();
  state.applyLiveStroke({ id: "s", points: [[1, 1]] }, 0);
  assert.equal(state.pruneLive(5000), false);
  assert.equal(state.pruneLive(10_001), true);
  assert.equal(state.live.size, 0);
});

test("the eraser finds the topmost settled shape under the point", () => {
  const state = new BoardState();
  state.applySnapshot({ shapes: [shape("low", 1, 1), shape("high", 1, 2)], seq: 1 });
  assert.equal(state.topAt([5, 5], 4).id, "high");
  state.shapes.set("mine", { ...shape("mine"), z: undefined, pending: true });
  assert.equal(state.topAt([5, 5], 4).id, "high", "a shape still waiting for its reply is not erasable");
  assert.equal(state.topAt([500, 5], 4), undefined);
});
