// The room's whiteboard (topic board:<slug>): a snapshot on join, shapes as they are
// committed, others' strokes while they are drawn (board.stroke) and their cursors.
// This module wires the parts together and talks to the server:
//   board-state.js    shapes, live strokes, events buffered until the snapshot (pure)
//   board-history.js  undo/redo as ordinary versioned changes (pure)
//   board-gesture.js  shapes built from a drag or the keyboard crosshair (pure)
//   board-input.js    tools, pointer, keyboard, the text form
//   board-cursors.js  sending our cursor (writers only), showing others'
//   board-render.js   drawing on the canvas, hit-testing
import { api } from "./api.js";
import { cursorLayer, cursorSender } from "./board-cursors.js";
import { History } from "./board-history.js";
import { bindInput } from "./board-input.js";
import { BOARD_H, BOARD_W, drawShape } from "./board-render.js";
import { BoardState, loadSnapshot } from "./board-state.js";

// How often others' stale strokes are swept (they go after LIVE_STALE_MS without news).
const LIVE_SWEEP_MS = 2000;
// A draw survives a reconnect (retry: the server answers a resent draw with the same
// shape) and may wait this long for the socket to come back.
const DRAW_TIMEOUT_MS = 30_000;

export function startBoard(client, page) {
  const topic = page.topics.board;
  const slug = topic.slice("board:".length);
  const $ = (id) => document.getElementById(id);
  const canvas = $("board-canvas");
  const wrapEl = $("board-wrap");
  const stage = $("board-stage");
  const status = $("board-status");
  const undoBtn = $("board-undo");
  const redoBtn = $("board-redo");
  const clearBtn = $("board-clear");
  const ctx = canvas.getContext("2d");
  const writable = Boolean(page.can_write);
  const state = new BoardState();
  const history = new History({ onChange: updateHistoryButtons });
  let scale = 1;
  let dirty = true;
  const redraw = () => { dirty = true; };
  const announce = (text) => { status.textContent = text; };
  const cursors = cursorLayer($("board-cursors"), { selfId: page.user ? page.user.id : null, getScale: () => scale });
  const sendCursor = cursorSender(client, topic, writable);

  // --- layout & rendering ------------------------------------------------------------
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
    cursors.reposition();
  }
  new ResizeObserver(resize).observe(wrapEl);

  function frame() {
    if (dirty) {
      dirty = false;
      ctx.clearRect(0, 0, BOARD_W, BOARD_H);
      for (const shape of state.ordered()) drawShape(ctx, shape);
      for (const stroke of state.live.values()) drawShape(ctx, stroke, { ghost: true });
      // For tests and assistive tooling: what the canvas currently shows.
      canvas.dataset.shapes = String(state.shapes.size);
      canvas.dataset.live = String(state.live.size);
      const drawing = input.drawing();
      if (drawing) drawShape(ctx, drawing);
      const cross = input.crosshair();
      if (cross) {
        const [x, y] = cross;
        ctx.save();
        ctx.strokeStyle = "#0f172a";
        ctx.lineWidth = 1.5 / scale;
        ctx.beginPath();
        ctx.moveTo(x - 12, y); ctx.lineTo(x + 12, y); ctx.moveTo(x, y - 12); ctx.lineTo(x, y + 12);
        ctx.stroke();
        ctx.restore();
      }
    }
    requestAnimationFrame(frame);
  }

  // --- sync with the server ------------------------------------------------------------
  function onEvent(event, data, frameData) {
    if (event === "board.cursor") return cursors.show(data);
    if (event === "presence.leave") return (data.users || []).forEach((u) => cursors.drop(u.id));
    const { changed, cleared } = state.onEvent(event, data, frameData);
    if (changed) dirty = true;
    if (cleared) {
      history.clear();
      announce("The board was cleared.");
    }
  }

  let loads = 0;
  function load(overRest = false) {
    // After a failed resume the state is refetched over REST (the same snapshot).
    const fetchSnap = overRest ? () => api("GET", `/api/boards/${encodeURIComponent(slug)}/`)
      : () => client.request("board.snapshot", topic, {});
    const mine = ++loads;
    canvas.dataset.ready = "false";
    return loadSnapshot(state, fetchSnap, {
      isCurrent: () => mine === loads,
      onFailure: (err, delay) => announce(`Whiteboard unavailable (${err.message}); trying again in ${Math.round(delay / 1000)} s.`),
    }).then((done) => {
      if (!done) return;
      dirty = true;
      canvas.dataset.ready = "true";
      announce("");
    });
  }

  client.subscribe(topic, onEvent, {
    onResync: () => load(true),
    onError: (err) => announce(`Whiteboard unavailable: ${err.message}`),
  }).ready.then(() => load()).catch((err) => announce(err.message));
  setInterval(() => { if (state.pruneLive()) dirty = true; }, LIVE_SWEEP_MS);

  // --- writing -----------------------------------------------------------------------------
  /** Draws (or redraws, with shape.version) a shape; resolves with the server's shape.
   *  The shape shows at once, pending; a refused draw restores what was there. */
  async function draw(shape) {
    const before = state.shapes.get(shape.id);
    state.shapes.set(shape.id, { ...(before || {}), ...shape, pending: true });
    dirty = true;
    try {
      const reply = await client.request("board.draw", topic, { shape }, { retry: true, timeout: DRAW_TIMEOUT_MS });
      // The reply is the truth, unless an event already brought a newer version.
      if (state.shapes.get(shape.id)?.pending) state.shapes.delete(shape.id);
      state.applyShape(reply.shape);
      return reply.shape;
    } catch (err) {
      if (state.shapes.get(shape.id)?.pending) {
        state.shapes.delete(shape.id);
        if (before) state.shapes.set(shape.id, before);
      }
      if (err.code === "conflict" && err.data && err.data.shape && !err.data.deleted) state.applyShape(err.data.shape);
      throw err;
    } finally {
      dirty = true;
    }
  }

  /** Erases a shape at the version we hold (a newer one is a conflict); resolves with the
   *  erased version.  A refused erase puts the shape back (or the server's newer one). */
  async function erase(id, version) {
    const before = state.shapes.get(id);
    state.shapes.delete(id);
    dirty = true;
    try {
      const data = version === undefined || version === null ? { id } : { id, version };
      const reply = await client.request("board.erase", topic, data);
      return reply.version;
    } catch (err) {
      if (err.code === "conflict" && err.data && err.data.shape) {
        if (!err.data.deleted) state.applyShape(err.data.shape);
      } else if (err.code !== "not_found" && before) {
        state.shapes.set(id, before);
      }
      throw err;
    } finally {
      dirty = true;
    }
  }

  function commit(shape) {
    draw({ id: shape.id, kind: shape.kind, data: shape.data })
      .then((saved) => history.record("draw", shape, saved.version))
      .catch((err) => announce(`Could not draw: ${err.message}`));
  }

  function eraseAt(p, slop) {
    const target = state.topAt(p, slop);
    if (!target) return;
    announce(`${target.kind} erased`);
    erase(target.id, target.version)
      .then((version) => history.record("erase", target, version))
      .catch((err) => announce(err.code === "not_found" ? `${target.kind} was already erased` : `Could not erase: ${err.message}`));
  }

  // One history step: an erase at a version, or a redraw of the same id at a version.
  const perform = (step) => (step.action === "erase" ? erase(step.id, step.version) : draw(step.shape).then((s) => s.version));
  const undo = () => history.undo(perform).catch((err) => announce(`Could not undo: ${err.message}`));
  const redo = () => history.redo(perform).catch((err) => announce(`Could not redo: ${err.message}`));

  function updateHistoryButtons() {
    undoBtn.disabled = !writable || !history.canUndo;
    redoBtn.disabled = !writable || !history.canRedo;
  }
  undoBtn.addEventListener("click", undo);
  redoBtn.addEventListener("click", redo);
  if (clearBtn) {
    clearBtn.addEventListener("click", async () => {
      if (!window.confirm("Clear the whole board for everyone?")) return;
      try {
        await client.request("board.clear", topic, {});
        history.clear();
      } catch (err) {
        announce(`Could not clear: ${err.message}`);
      }
    });
  }

  const input = bindInput({
    writable,
    getScale: () => scale,
    redraw,
    announce,
    sendCursor,
    sendStroke: (shape, from) => client.notify("board.stroke", topic,
      { id: shape.id, points: shape.data.points.slice(from), color: shape.data.color, width: shape.data.width }),
    commit,
    eraseAt,
    undo,
    redo,
  });
  requestAnimationFrame(frame);
  updateHistoryButtons();
  return { state };
}
