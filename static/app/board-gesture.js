// Building a shape from a gesture (pointer drag or keyboard crosshair), without the DOM:
// start at a point, extend to more points, finish into the shape sent with board.draw.
// Tested by tests/js/board-gesture.test.mjs.
import { BOARD_H, BOARD_W } from "./board-render.js";

// Most points in one stroke, as the server accepts (whiteboard/validation.py MAX_POINTS).
export const MAX_STROKE_POINTS = 5000;
// A pen point closer than this (board units) to the previous one adds nothing visible.
const MIN_POINT_GAP = 1.5;
// A rectangle or ellipse smaller than this both ways is a click, not a shape.
const MIN_BOX = 2;
// Arrow keys move the keyboard crosshair this far (Shift: five times as far).
export const KEY_STEP = 10;

/** A shape in progress for `tool` at point p with style {color, width}, or null for the
 *  tools that are not drags (text, note, eraser). */
export function startShape(tool, p, { color, width }, id) {
  if (tool === "pen") return { id, kind: "stroke", data: { points: [p], color, width } };
  if (tool === "line") return { id, kind: "line", data: { points: [p, p], color, width } };
  if (tool === "rect" || tool === "ellipse") return { id, kind: tool, data: { x: p[0], y: p[1], w: 0, h: 0, color, width } };
  return null;
}

/** Moves the shape's free end to p (a pen adds a point).  Returns whether it changed. */
export function extendShape(shape, p) {
  const d = shape.data;
  if (shape.kind === "stroke") {
    const last = d.points[d.points.length - 1];
    if (Math.hypot(p[0] - last[0], p[1] - last[1]) < MIN_POINT_GAP || d.points.length >= MAX_STROKE_POINTS) return false;
    d.points.push(p);
  } else if (shape.kind === "line") {
    d.points[1] = p;
  } else {
    d.w = p[0] - d.x;
    d.h = p[1] - d.y;
  }
  return true;
}

/** The shape to send, normalised as stored (boxes: top-left corner, positive size), or null
 *  when it is too small to keep. */
export function finishShape(shape) {
  const d = shape.data;
  if (shape.kind === "rect" || shape.kind === "ellipse") {
    if (d.w < 0) { d.x += d.w; d.w = -d.w; }
    if (d.h < 0) { d.y += d.h; d.h = -d.h; }
    if (d.w < MIN_BOX && d.h < MIN_BOX) return null;
  }
  return shape;
}

/** The keyboard crosshair moved by arrow key `key` (null for other keys), kept on the board. */
export function moveCrosshair(point, key, fast = false) {
  const move = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[key];
  if (!move) return null;
  const step = fast ? KEY_STEP * 5 : KEY_STEP;
  return [Math.max(0, Math.min(BOARD_W, point[0] + move[0] * step)),
    Math.max(0, Math.min(BOARD_H, point[1] + move[1] * step))];
}
