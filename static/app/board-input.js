// Whiteboard input: the tool bar, pointer gestures, the keyboard (arrow keys move a crosshair,
// Enter or Space starts and finishes a shape, Escape cancels, letters pick tools, Ctrl+Z /
// Ctrl+Shift+Z undo and redo) and the small text form for text and notes.  It builds shapes
// with board-gesture.js and hands finished ones to `board` (board.js), which talks to the server.
import { BOARD_H, BOARD_W, NOTE_H, NOTE_W } from "./board-render.js";
import { extendShape, finishShape, moveCrosshair, startShape } from "./board-gesture.js";
import { uuid } from "./dom.js";

// In-progress stroke points are sent in batches this often (20 Hz: smooth enough to watch,
// well inside the 50 frames/s connection budget alongside cursors).
const STROKE_EVERY_MS = 50;
// The eraser's reach around the pointer, in screen pixels (divided by the board's scale).
const ERASER_SLOP_PX = 8;
const SHORTCUTS = { p: "pen", l: "line", r: "rect", o: "ellipse", t: "text", n: "note", e: "eraser" };

/** Binds the board's controls.  `board` gives: writable, getScale(), redraw(), announce(text),
 *  sendCursor(p), sendStroke(shape, fromIndex) -> sent?, commit(shape), eraseAt(p, slop),
 *  undo(), redo().  Returns {drawing(): the shape being drawn or null, crosshair(): the
 *  keyboard crosshair to show or null}. */
export function bindInput(board) {
  const $ = (id) => document.getElementById(id);
  const canvas = $("board-canvas");
  const colorInput = $("board-color");
  const widthInput = $("board-width");
  const textForm = $("board-text");
  const textInput = $("board-text-input");
  const textLabel = $("board-text-label");
  const toolButtons = [...document.querySelectorAll(".tool[data-tool]")];
  let tool = "pen";
  let drawing = null; // {shape, sent, flush} of our shape in progress, or {erasing: true}
  let keyCursor = [BOARD_W / 2, BOARD_H / 2];
  let keyboardActive = false;
  let textAt = null;

  function setTool(name) {
    tool = name;
    for (const b of toolButtons) {
      const on = b.dataset.tool === name;
      b.setAttribute("aria-checked", String(on));
      b.tabIndex = on ? 0 : -1;
    }
    canvas.dataset.tool = name;
  }
  toolButtons.forEach((b, i) => {
    b.addEventListener("click", () => setTool(b.dataset.tool));
    b.addEventListener("keydown", (ev) => {
      const delta = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[ev.key];
      if (!delta) return;
      ev.preventDefault();
      const next = toolButtons[(i + delta + toolButtons.length) % toolButtons.length];
      setTool(next.dataset.tool);
      next.focus();
    });
  });
  setTool("pen");
  if (!board.writable) for (const b of [...toolButtons, colorInput, widthInput]) b.disabled = true;
  widthInput.addEventListener("input", () => { $("board-width-out").value = widthInput.value; });

  const style = () => ({ color: colorInput.value, width: Number(widthInput.value) });
  const eraseAt = (p) => board.eraseAt(p, ERASER_SLOP_PX / Math.max(board.getScale(), 0.2));

  function flushStroke() {
    if (!drawing || !drawing.shape || drawing.shape.kind !== "stroke") return;
    if (drawing.sent < drawing.shape.data.points.length && board.sendStroke(drawing.shape, drawing.sent)) {
      drawing.sent = drawing.shape.data.points.length;
    }
  }

  function begin(p) {
    if (!board.writable) return;
    if (tool === "text" || tool === "note") { openTextForm(p); return; }
    if (tool === "eraser") { eraseAt(p); drawing = { erasing: true }; return; }
    drawing = { shape: startShape(tool, p, style(), uuid()), sent: 0 };
    if (drawing.shape.kind === "stroke") drawing.flush = setInterval(flushStroke, STROKE_EVERY_MS);
    board.redraw();
  }

  function extend(p) {
    if (!drawing) return;
    if (drawing.erasing) eraseAt(p);
    else if (extendShape(drawing.shape, p)) board.redraw();
  }

  function finish() {
    const current = drawing;
    drawing = null;
    if (!current || current.erasing) return;
    clearInterval(current.flush);
    const shape = finishShape(current.shape);
    board.redraw();
    if (!shape) return;
    board.commit(shape);
    board.announce(`${shape.kind} drawn`);
  }

  function cancel() {
    if (drawing && drawing.flush) clearInterval(drawing.flush);
    drawing = null;
    textForm.hidden = true;
    board.redraw();
  }

  function openTextForm(p) {
    const scale = board.getScale();
    textAt = p;
    textLabel.textContent = tool === "note" ? "Note text" : "Text";
    textForm.dataset.kind = tool;
    textForm.hidden = false;
    textForm.style.left = `${Math.max(0, Math.min(p[0] * scale, BOARD_W * scale - 240))}px`;
    textForm.style.top = `${Math.max(0, Math.min(p[1] * scale, BOARD_H * scale - 130))}px`;
    textInput.value = "";
    textInput.focus();
  }
  textForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = textInput.value.trim();
    textForm.hidden = true;
    if (text && textAt) {
      const kind = textForm.dataset.kind;
      const data = { x: textAt[0], y: textAt[1], text, ...style() };
      if (kind === "note") Object.assign(data, { w: NOTE_W, h: NOTE_H });
      board.commit({ id: uuid(), kind, data });
    }
    canvas.focus();
  });
  textInput.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); textForm.requestSubmit(); }
    if (ev.key === "Escape") { ev.preventDefault(); cancel(); canvas.focus(); }
  });
  $("board-text-cancel").addEventListener("click", () => { cancel(); canvas.focus(); });

  function boardPoint(ev) {
    const rect = canvas.getBoundingClientRect();
    const x = ((ev.clientX - rect.left) / rect.width) * BOARD_W;
    const y = ((ev.clientY - rect.top) / rect.height) * BOARD_H;
    // Whole board units (1/1600 of the width): finer than any screen shows, and a stroke at
    // the 5,000-point limit stays under the socket's 64 KiB frame limit (~55 KB).
    return [Math.round(Math.max(0, Math.min(BOARD_W, x))), Math.round(Math.max(0, Math.min(BOARD_H, y)))];
  }
  canvas.addEventListener("pointerdown", (ev) => {
    if (ev.button !== 0) return;
    keyboardActive = false;
    canvas.focus();
    canvas.setPointerCapture(ev.pointerId);
    begin(boardPoint(ev));
  });
  canvas.addEventListener("pointermove", (ev) => {
    const p = boardPoint(ev);
    board.sendCursor(p);
    extend(p);
  });
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", cancel);

  canvas.addEventListener("keydown", (ev) => {
    const moved = moveCrosshair(keyCursor, ev.key, ev.shiftKey);
    if (moved) {
      ev.preventDefault();
      keyboardActive = true;
      keyCursor = moved;
      board.sendCursor(keyCursor);
      if (drawing && !drawing.erasing) extend(keyCursor);
      board.redraw();
    } else if (ev.key === "Enter" || ev.key === " ") {
      ev.preventDefault();
      keyboardActive = true;
      if (drawing) finish();
      else if (tool === "eraser") eraseAt(keyCursor);
      else {
        begin(keyCursor);
        if (drawing) board.announce(`Started a ${drawing.shape.kind}: move with the arrow keys, Enter to finish`);
      }
      board.redraw();
    } else if (ev.key === "Escape") {
      cancel();
    } else if (!ev.ctrlKey && !ev.metaKey && !ev.altKey && SHORTCUTS[ev.key.toLowerCase()] && board.writable) {
      setTool(SHORTCUTS[ev.key.toLowerCase()]);
      board.announce(`${SHORTCUTS[ev.key.toLowerCase()]} tool`);
    }
  });
  canvas.addEventListener("focus", board.redraw);
  canvas.addEventListener("blur", board.redraw);

  // Undo / redo shortcuts anywhere outside text fields.
  document.addEventListener("keydown", (ev) => {
    if (!(ev.ctrlKey || ev.metaKey) || ev.altKey) return;
    const target = ev.target;
    if (target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT")) return;
    const key = ev.key.toLowerCase();
    if (key === "z" && !ev.shiftKey) { ev.preventDefault(); board.undo(); }
    else if ((key === "z" && ev.shiftKey) || key === "y") { ev.preventDefault(); board.redo(); }
  });

  return {
    drawing: () => (drawing && drawing.shape) || null,
    crosshair: () => (keyboardActive && document.activeElement === canvas ? keyCursor : null),
  };
}
