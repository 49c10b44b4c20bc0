// The room's whiteboard (topic board:<slug>): a snapshot on join, shapes as they are
// committed, others' strokes while they are drawn (board.stroke) and their cursors.
// Tools: pen, line, rect, ellipse, text, note, eraser; colour, width; undo/redo (an
// erase or a redraw, so they reach everyone); clear for owners.  Mouse, touch and keyboard.
import { api } from "./api.js";
import { colourFor } from "./chat.js";

const COLOUR_RE = /^#[0-9a-f]{6}$/i;

// A colour from the network as `#rrggbb`, or the fallback: nothing else is ever put into
// a style attribute or the canvas (a forged event must not inject CSS into viewers' pages).
export function safeColour(value, fallback) {
  return typeof value === "string" && COLOUR_RE.test(value) ? value.toLowerCase() : fallback;
}
import { BOARD_H, BOARD_W, drawShape, hits, NOTE_H, NOTE_W } from "./board-render.js";
import { displayName, el, uuid } from "./dom.js";

// The server forwards at most 20 cursors/s per connection; stay under it.
const CURSOR_EVERY_MS = 60;
// In-progress stroke points are sent in batches this often (20 Hz: smooth enough to
// watch, well inside the 50 frames/s connection budget alongside cursors).
const STROKE_EVERY_MS = 50;
// Others' cursors and unfinished strokes disappear after this long without news.
const CURSOR_STALE_MS = 5000;
const LIVE_STALE_MS = 10_000;
const KEY_STEP = 10;

export function startBoard(client, page) {
  const topic = page.topics.board;
  const canvas = document.getElementById("board-canvas");
  const wrapEl = document.getElementById("board-wrap");
  const cursorLayer = document.getElementById("board-cursors");
  const status = document.getElementById("board-status");
  const colorInput = document.getElementById("board-color");
  const widthInput = document.getElementById("board-width");
  const widthOut = document.getElementById("board-width-out");
  const undoBtn = document.getElementById("board-undo");
  const redoBtn = document.getElementById("board-redo");
  const clearBtn = document.getElementById("board-clear");
  const textForm = document.getElementById("board-text");
  const textInput = document.getElementById("board-text-input");
  const textLabel = document.getElementById("board-text-label");
  const ctx = canvas.getContext("2d");
  const writable = page.can_write;

  const shapes = new Map(); // id -> shape (server's, or ours before the reply)
  const live = new Map(); // id -> {kind:"stroke", data, at}: others' strokes in progress
  const cursors = new Map(); // user id -> {node, timer}
  const undoStack = [];
  const redoStack = [];
  let tool = "pen";
  let drawing = null; // {shape, sentPoints, flushTimer} of our shape in progress
  let keyCursor = [BOARD_W / 2, BOARD_H / 2];
  let keyboardActive = false;
  let lastCursorSent = 0;
  let dirty = true;
  let ready = false;
  let buffered = []; // events that arrived before the snapshot

  // --- layout & rendering ------------------------------------------------------------
  let scale = 1;
  const stage = document.getElementById("board-stage");
  function resize() {
    // The whole board fits the space it has, keeping its 16:10 shape.
    scale = Math.max(0.1, Math.min(wrapEl.clientWidth / BOARD_W, (wrapEl.clientHeight || Infinity) / BOARD_H));
    const width = Math.floor(BOARD_W * scale);
    stage.style.width = `${width}px`;
    stage.style.height = `${Math.floor(BOARD_H * scale)}px`;
    const dpr = window.devicePixelRatio || 1;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${BOARD_H * scale}px`;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(BOARD_H * scale * dpr);
    ctx.setTransform(scale * dpr, 0, 0, scale * dpr, 0, 0);
    dirty = true;
    for (const c of cursors.values()) place(c.node, c.x, c.y);
  }
  new ResizeObserver(resize).observe(wrapEl);

  function frame() {
    if (dirty) {
      dirty = false;
      ctx.clearRect(0, 0, BOARD_W, BOARD_H);
      const ordered = [...shapes.values()].sort((a, b) => (a.z ?? Infinity) - (b.z ?? Infinity));
      for (const shape of ordered) drawShape(ctx, shape);
      for (const stroke of live.values()) drawShape(ctx, stroke, { ghost: true });
      // For tests and assistive tooling: what the canvas currently shows.
      canvas.dataset.shapes = String(shapes.size);
      canvas.dataset.live = String(live.size);
      if (drawing) drawShape(ctx, drawing.shape);
      if (keyboardActive && document.activeElement === canvas) {
        ctx.save();
        ctx.strokeStyle = "#0f172a";
        ctx.lineWidth = 1.5 / scale;
        const [x, y] = keyCursor;
        ctx.beginPath();
        ctx.moveTo(x - 12, y); ctx.lineTo(x + 12, y); ctx.moveTo(x, y - 12); ctx.lineTo(x, y + 12);
        ctx.stroke();
        ctx.restore();
      }
    }
    requestAnimationFrame(frame);
  }
  requestAnimationFrame(frame);

  function announce(text) {
    status.textContent = text;
  }

  // --- sync with the server ------------------------------------------------------------
  function applyShape(shape) {
    const current = shapes.get(shape.id);
    if (current && current.version !== undefined && shape.version !== undefined && shape.version < current.version) return;
    shapes.set(shape.id, shape);
    live.delete(shape.id);
    dirty = true;
  }

  function onEvent(event, data, frameData) {
    if (!ready) {
      buffered.push([event, data, frameData]);
      return;
    }
    if (event === "board.shape") applyShape(data.shape);
    else if (event === "board.erased") { shapes.delete(data.id); live.delete(data.id); dirty = true; }
    else if (event === "board.cleared") { shapes.clear(); live.clear(); dirty = true; announce("The board was cleared."); }
    else if (event === "board.stroke") onLiveStroke(data);
    else if (event === "board.cursor") onCursor(data);
    else if (event === "presence.leave") (data.users || []).forEach((u) => dropCursor(u.id));
  }

  async function loadSnapshot(overRest = false) {
    ready = false;
    // After a failed recovery the state is refetched over REST (the same snapshot).
    const snap = overRest
      ? await api("GET", `/api/boards/${encodeURIComponent(topic.slice("board:".length))}/`)
      : await client.request("board.snapshot", topic, {});
    shapes.clear();
    for (const shape of snap.shapes || []) shapes.set(shape.id, shape);
    ready = true;
    dirty = true;
    const later = buffered.filter(([, , f]) => f.seq === null || f.seq > (snap.seq ?? -1));
    buffered = [];
    for (const [event, data, f] of later) onEvent(event, data, f);
    canvas.dataset.ready = "true";
  }

  client.subscribe(topic, onEvent, {
    onResync: () => loadSnapshot(true).catch((err) => announce(err.message)),
    onError: (err) => announce(`Whiteboard unavailable: ${err.message}`),
  }).ready.then(() => loadSnapshot()).catch((err) => announce(err.message));

  function onLiveStroke(data) {
    if (!data || !data.id || shapes.has(data.id)) return;
    const colour = safeColour(data.color, null);
    const entry = live.get(data.id) || { id: data.id, kind: "stroke", data: { points: [], color: colour, width: data.width } };
    entry.data.points.push(...(data.points || []));
    if (colour) entry.data.color = colour;
    if (data.width) entry.data.width = data.width;
    entry.at = Date.now();
    live.set(data.id, entry);
    dirty = true;
  }
  setInterval(() => {
    const now = Date.now();
    for (const [id, entry] of live) if (now - entry.at > LIVE_STALE_MS) { live.delete(id); dirty = true; }
  }, 2000);

  // --- cursors ---------------------------------------------------------------------------
  function place(node, x, y) {
    node.style.transform = `translate(${x * scale}px, ${y * scale}px)`;
  }

  function onCursor(data) {
    const user = data.user;
    if (!user || (page.user && user.id === page.user.id)) return;
    let entry = cursors.get(user.id);
    if (!entry) {
      // Only a validated #rrggbb reaches a style attribute (the server checks it too).
      const colour = safeColour(data.color, colourFor(user));
      const node = el("div", { class: "cursor", dataset: { user: user.id } },
        el("span", { class: "cursor-arrow", style: `border-bottom-color:${colour}` }),
        el("span", { class: "cursor-name", style: `background:${colour}` }, displayName(user)));
      cursorLayer.append(node);
      entry = { node };
      cursors.set(user.id, entry);
    }
    entry.x = data.x;
    entry.y = data.y;
    place(entry.node, data.x, data.y);
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => dropCursor(user.id), CURSOR_STALE_MS);
  }

  function dropCursor(id) {
    const entry = cursors.get(id);
    if (!entry) return;
    entry.node.remove();
    clearTimeout(entry.timer);
    cursors.delete(id);
  }

  function sendCursor(p) {
    const now = Date.now();
    if (now - lastCursorSent < CURSOR_EVERY_MS) return;
    lastCursorSent = now;
    client.notify("board.cursor", topic, { x: Math.round(p[0]), y: Math.round(p[1]) });
  }

  // --- writing -----------------------------------------------------------------------------
  function style() {
    return { color: colorInput.value, width: Number(widthInput.value) };
  }

  async function commit(shape, { record = true } = {}) {
    const local = { ...shape, pending: true };
    shapes.set(shape.id, local);
    dirty = true;
    try {
      const reply = await client.request("board.draw", topic, { shape: { id: shape.id, kind: shape.kind, data: shape.data } },
        { retry: true, timeout: 30_000 });
      if (reply.shape) applyShape(reply.shape);
      if (record) {
        undoStack.push({ op: "add", shape: reply.shape || shape });
        redoStack.length = 0;
      }
    } catch (err) {
      shapes.delete(shape.id);
      dirty = true;
      announce(`Could not draw: ${err.message}`);
      throw err;
    } finally {
      updateHistoryButtons();
    }
  }

  async function erase(id, { record = true } = {}) {
    const shape = shapes.get(id);
    if (!shape) return;
    shapes.delete(id);
    dirty = true;
    try {
      await client.request("board.erase", topic, { id });
      if (record) {
        undoStack.push({ op: "erase", shape });
        redoStack.length = 0;
      }
    } catch (err) {
      if (err.code !== "not_found") {
        shapes.set(id, shape);
        dirty = true;
        announce(`Could not erase: ${err.message}`);
      }
    } finally {
      updateHistoryButtons();
    }
  }

  const copy = (shape) => ({ id: uuid(), kind: shape.kind, data: structuredClone(shape.data) });

  async function undo() {
    const entry = undoStack.pop();
    if (!entry) return;
    try {
      if (entry.op === "add") {
        await erase(entry.shape.id, { record: false });
      } else {
        const again = copy(entry.shape);
        await commit(again, { record: false });
        entry.shape = shapes.get(again.id) || again;
      }
      redoStack.push(entry);
    } catch {
      /* announced */
    }
    updateHistoryButtons();
  }

  async function redo() {
    const entry = redoStack.pop();
    if (!entry) return;
    try {
      if (entry.op === "add") {
        const again = copy(entry.shape);
        await commit(again, { record: false });
        entry.shape = shapes.get(again.id) || again;
      } else {
        await erase(entry.shape.id, { record: false });
      }
      undoStack.push(entry);
    } catch {
      /* announced */
    }
    updateHistoryButtons();
  }

  function updateHistoryButtons() {
    undoBtn.disabled = !writable || undoStack.length === 0;
    redoBtn.disabled = !writable || redoStack.length === 0;
  }

  undoBtn.addEventListener("click", undo);
  redoBtn.addEventListener("click", redo);
  if (clearBtn) {
    clearBtn.addEventListener("click", async () => {
      if (!window.confirm("Clear the whole board for everyone?")) return;
      try {
        await client.request("board.clear", topic, {});
        undoStack.length = 0;
        redoStack.length = 0;
        updateHistoryButtons();
      } catch (err) {
        announce(`Could not clear: ${err.message}`);
      }
    });
  }
  widthInput.addEventListener("input", () => { widthOut.value = widthInput.value; });

  // --- tools ------------------------------------------------------------------------------
  const toolButtons = [...document.querySelectorAll(".tool[data-tool]")];
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
  if (!writable) {
    for (const b of [...toolButtons, colorInput, widthInput]) b.disabled = true;
  }

  // --- drawing gestures (pointer and keyboard share these) ----------------------------------
  function begin(p) {
    if (!writable) return;
    const { color, width } = style();
    const id = uuid();
    if (tool === "pen") drawing = { shape: { id, kind: "stroke", data: { points: [p], color, width } }, sent: 0 };
    else if (tool === "line") drawing = { shape: { id, kind: "line", data: { points: [p, p], color, width } } };
    else if (tool === "rect" || tool === "ellipse") {
      drawing = { shape: { id, kind: tool, data: { x: p[0], y: p[1], w: 0, h: 0, color, width } } };
    } else if (tool === "text" || tool === "note") { openTextForm(p); return; }
    else if (tool === "eraser") { eraseAt(p); drawing = { erasing: true }; return; }
    if (drawing && drawing.shape.kind === "stroke") {
      drawing.flush = setInterval(flushStroke, STROKE_EVERY_MS);
    }
    dirty = true;
  }

  function extend(p) {
    if (!drawing) return;
    if (drawing.erasing) { eraseAt(p); return; }
    const d = drawing.shape.data;
    if (drawing.shape.kind === "stroke") {
      const last = d.points[d.points.length - 1];
      if (Math.hypot(p[0] - last[0], p[1] - last[1]) >= 1.5 && d.points.length < 5000) d.points.push(p);
    } else if (drawing.shape.kind === "line") {
      d.points[1] = p;
    } else {
      d.w = p[0] - d.x;
      d.h = p[1] - d.y;
    }
    dirty = true;
  }

  function flushStroke() {
    if (!drawing || !drawing.shape || drawing.shape.kind !== "stroke") return;
    const d = drawing.shape.data;
    if (drawing.sent >= d.points.length) return;
    const points = d.points.slice(drawing.sent);
    if (client.notify("board.stroke", topic, { id: drawing.shape.id, points, color: d.color, width: d.width })) {
      drawing.sent = d.points.length;
    }
  }

  function finish() {
    if (!drawing) return;
    const current = drawing;
    drawing = null;
    if (current.erasing) return;
    clearInterval(current.flush);
    const shape = current.shape;
    const d = shape.data;
    if (shape.kind === "rect" || shape.kind === "ellipse") {
      // Stored normalised (positive width and height).
      if (d.w < 0) { d.x += d.w; d.w = -d.w; }
      if (d.h < 0) { d.y += d.h; d.h = -d.h; }
      if (d.w < 2 && d.h < 2) { dirty = true; return; }
    }
    commit(shape).catch(() => {});
    announce(`${shape.kind} drawn`);
  }

  function cancel() {
    if (drawing && drawing.flush) clearInterval(drawing.flush);
    drawing = null;
    textForm.hidden = true;
    dirty = true;
  }

  function eraseAt(p) {
    const ordered = [...shapes.values()].filter((s) => !s.pending).sort((a, b) => (b.z ?? 0) - (a.z ?? 0));
    const target = ordered.find((s) => hits(s, p, 8 / Math.max(scale, 0.2)));
    if (target) {
      erase(target.id);
      announce(`${target.kind} erased`);
    }
  }

  // text and note: a small labelled form over the board
  let textAt = null;
  function openTextForm(p) {
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
      const { color, width } = style();
      const kind = textForm.dataset.kind;
      const data = { x: textAt[0], y: textAt[1], text, color, width };
      if (kind === "note") Object.assign(data, { w: NOTE_W, h: NOTE_H });
      commit({ id: uuid(), kind, data })
        .catch(() => {});
    }
    canvas.focus();
  });
  textInput.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); textForm.requestSubmit(); }
    if (ev.key === "Escape") { ev.preventDefault(); cancel(); canvas.focus(); }
  });
  document.getElementById("board-text-cancel").addEventListener("click", () => { cancel(); canvas.focus(); });

  // pointer
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
    sendCursor(p);
    extend(p);
  });
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", cancel);

  // keyboard: arrows move a crosshair; Enter starts and finishes; Escape cancels
  const SHORTCUTS = { p: "pen", l: "line", r: "rect", o: "ellipse", t: "text", n: "note", e: "eraser" };
  canvas.addEventListener("keydown", (ev) => {
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (moves[ev.key]) {
      ev.preventDefault();
      keyboardActive = true;
      const step = ev.shiftKey ? KEY_STEP * 5 : KEY_STEP;
      keyCursor = [Math.max(0, Math.min(BOARD_W, keyCursor[0] + moves[ev.key][0] * step)),
        Math.max(0, Math.min(BOARD_H, keyCursor[1] + moves[ev.key][1] * step))];
      sendCursor(keyCursor);
      if (drawing && !drawing.erasing) extend(keyCursor);
      dirty = true;
    } else if (ev.key === "Enter" || ev.key === " ") {
      ev.preventDefault();
      keyboardActive = true;
      if (drawing) finish();
      else if (tool === "eraser") eraseAt(keyCursor);
      else {
        begin(keyCursor);
        if (drawing) announce(`Started a ${drawing.shape.kind}: move with the arrow keys, Enter to finish`);
      }
      dirty = true;
    } else if (ev.key === "Escape") {
      cancel();
    } else if (!ev.ctrlKey && !ev.metaKey && !ev.altKey && SHORTCUTS[ev.key.toLowerCase()] && writable) {
      setTool(SHORTCUTS[ev.key.toLowerCase()]);
      announce(`${SHORTCUTS[ev.key.toLowerCase()]} tool`);
    }
  });
  canvas.addEventListener("focus", () => { dirty = true; });
  canvas.addEventListener("blur", () => { dirty = true; });

  // undo / redo shortcuts anywhere outside text fields
  document.addEventListener("keydown", (ev) => {
    if (!(ev.ctrlKey || ev.metaKey) || ev.altKey) return;
    const target = ev.target;
    if (target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT")) return;
    const key = ev.key.toLowerCase();
    if (key === "z" && !ev.shiftKey) { ev.preventDefault(); undo(); }
    else if ((key === "z" && ev.shiftKey) || key === "y") { ev.preventDefault(); redo(); }
  });

  updateHistoryButtons();
  return { shapes };
}
