// Shapes from gestures (static/app/board-gesture.js) and the keyboard crosshair.
import assert from "node:assert/strict";
import { test } from "node:test";

import { extendShape, finishShape, MAX_STROKE_POINTS, moveCrosshair, startShape } from "../../static/app/board-gesture.js";

const style = { color: "#1d4ed8", width: 4 };

test("a rectangle dragged up and left is stored normalised", () => {
  const shape = startShape("rect", [100, 100], style, "id");
  extendShape(shape, [40, 70]);
  assert.deepEqual(finishShape(shape).data, { x: 40, y: 70, w: 60, h: 30, color: "#1d4ed8", width: 4 });
});

test("a click with a box tool makes no shape", () => {
  const shape = startShape("ellipse", [10, 10], style, "id");
  extendShape(shape, [11, 11]);
  assert.equal(finishShape(shape), null);
});

test("a pen skips points too close to the last and stops at the server's limit", () => {
  const shape = startShape("pen", [0, 0], style, "id");
  assert.equal(shape.kind, "stroke");
  assert.equal(extendShape(shape, [1, 0]), false);
  assert.equal(extendShape(shape, [2, 0]), true);
  for (let i = 3; i < MAX_STROKE_POINTS + 10; i++) extendShape(shape, [i * 2, 0]);
  assert.equal(shape.data.points.length, MAX_STROKE_POINTS);
});

test("a line keeps two points, its end following the gesture", () => {
  const shape = startShape("line", [5, 5], style, "id");
  extendShape(shape, [50, 60]);
  extendShape(shape, [70, 80]);
  assert.deepEqual(shape.data.points, [[5, 5], [70, 80]]);
});

test("text, note and eraser are not drags", () => {
  for (const tool of ["text", "note", "eraser"]) assert.equal(startShape(tool, [0, 0], style, "id"), null);
});

test("the crosshair moves by arrow keys, faster with Shift, and stays on the board", () => {
  assert.deepEqual(moveCrosshair([800, 500], "ArrowRight"), [810, 500]);
  assert.deepEqual(moveCrosshair([800, 500], "ArrowUp", true), [800, 450]);
  assert.deepEqual(moveCrosshair([5, 995], "ArrowLeft", true), [0, 995]);
  assert.deepEqual(moveCrosshair([5, 995], "ArrowDown", true), [5, 1000]);
  assert.equal(moveCrosshair([5, 5], "Enter"), null);
});
