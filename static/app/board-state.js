// The whiteboard's state, without the DOM: the shapes on the board, others' strokes in
// progress, and the events that arrive while a snapshot is awaited.  board.js feeds it the
// topic's events and snapshots and redraws when it says something changed; node unit tests
// drive it directly (tests/js/board-state.test.mjs).
import { hits } from "./board-render.js";
import { safeColour } from "./colour.js";

// Durable events kept while a snapshot is awaited.  A board with a busy room produces a few
// per second; a snapshot normally answers within a second.  Past this, the oldest ones are
// dropped and a snapshot older than them is refused (fetched again), so memory stays bounded
// however long the server takes, and nothing is lost.
export const BUFFER_LIMIT = 2000;
// Others' unfinished strokes disappear after this long without news (the server forwards
// points every ~50 ms while someone draws; the final board.shape replaces them).
export const LIVE_STALE_MS = 10_000;
// A failed snapshot is retried after 1 s, then twice as long each time up to 30 s: soon
// enough that a blip goes unnoticed, rarely enough not to hammer a struggling server.
export const SNAPSHOT_RETRY_FIRST_MS = 1000;
export const SNAPSHOT_RETRY_MAX_MS = 30_000;

/** The pause before snapshot retry number `attempt` (0 for the first retry). */
export function snapshotRetryDelay(attempt) {
  return Math.min(SNAPSHOT_RETRY_MAX_MS, SNAPSHOT_RETRY_FIRST_MS * 2 ** Math.max(0, attempt));
}

export class BoardState {
  constructor({ bufferLimit = BUFFER_LIMIT } = {}) {
    this.shapes = new Map(); // id -> shape (the server's, or ours marked pending before its reply)
    this.live = new Map(); // id -> {id, kind: "stroke", data, at}: others' strokes in progress
    this.ready = false; // a snapshot has been applied and no newer one is awaited
    this.buffered = []; // [event, data, seq] of durable events that came before the snapshot
    this.droppedThrough = null; // highest seq dropped from a full buffer
    this.bufferLimit = bufferLimit;
  }

  /** Called for every event of the board topic.  Durable events (with a seq) wait in the
   *  buffer until a snapshot is applied; ephemeral ones (strokes) apply at once.  Returns
   *  what changed: {changed, cleared} (cleared: the whole board was wiped). */
  onEvent(event, data, frame, now = Date.now()) {
    const seq = frame && frame.seq !== undefined ? frame.seq : null;
    if (seq !== null && !this.ready) {
      this.buffered.push([event, data, seq]);
      if (this.buffered.length > this.bufferLimit) {
        const [, , dropped] = this.buffered.shift();
        this.droppedThrough = Math.max(this.droppedThrough ?? dropped, dropped);
      }
      return { changed: false, cleared: false };
    }
    return this.apply(event, data || {}, now);
  }

  apply(event, data, now = Date.now()) {
    if (event === "board.shape") return { changed: this.applyShape(data.shape), cleared: false };
    if (event === "board.erased") {
      const had = this.shapes.delete(data.id) | this.live.delete(data.id);
      return { changed: Boolean(had), cleared: false };
    }
    if (event === "board.cleared") {
      this.shapes.clear();
      this.live.clear();
      return { changed: true, cleared: true };
    }
    if (event === "board.stroke") return { changed: this.applyLiveStroke(data, now), cleared: false };
    return { changed: false, cleared: false };
  }

  /** Puts a shape from the server on the board unless we hold a newer version of it. */
  applyShape(shape) {
    if (!shape || !shape.id) return false;
    const current = this.shapes.get(shape.id);
    if (current && current.version !== undefined && shape.version !== undefined && shape.version < current.version) {
      return false;
    }
    this.shapes.set(shape.id, shape);
    this.live.delete(shape.id);
    return true;
  }

  applyLiveStroke(data, now) {
    if (!data || !data.id || this.shapes.has(data.id) || !Array.isArray(data.points)) return false;
    const colour = safeColour(data.color, null);
    const entry = this.live.get(data.id) || { id: data.id, kind: "stroke", data: { points: [], color: colour, width: data.width } };
    entry.data.points.push(...data.points);
    if (colour) entry.data.color = colour;
    if (data.width) entry.data.width = data.width;
    entry.at = now;
    this.live.set(data.id, entry);
    return true;
  }

  /** Called before a snapshot is requested (first join, or a resync): durable events wait. */
  awaitSnapshot() {
    this.ready = false;
  }

  /** Replaces the board with snapshot {shapes, seq} and replays the buffered events after
   *  it.  Returns false, changing nothing, when the snapshot is older than events dropped
   *  from a full buffer: the caller fetches another. */
  applySnapshot(snap, now = Date.now()) {
    const seq = snap && Number.isInteger(snap.seq) ? snap.seq : -1;
    if (this.droppedThrough !== null && seq < this.droppedThrough) return false;
    this.shapes.clear();
    for (const shape of (snap && snap.shapes) || []) this.shapes.set(shape.id, shape);
    for (const id of this.live.keys()) if (this.shapes.has(id)) this.live.delete(id);
    const later = this.buffered.filter(([, , s]) => s > seq);
    this.buffered = [];
    this.droppedThrough = null;
    this.ready = true;
    for (const [event, data] of later) this.apply(event, data || {}, now);
    return true;
  }

  /** Forgets others' strokes without news for LIVE_STALE_MS; returns whether any went. */
  pruneLive(now = Date.now()) {
    let changed = false;
    for (const [id, entry] of this.live) {
      if (now - entry.at > LIVE_STALE_MS) {
        this.live.delete(id);
        changed = true;
      }
    }
    return changed;
  }

  /** The shapes in drawing order: lowest z first, ours without a z yet on top. */
  ordered() {
    return [...this.shapes.values()].sort((a, b) => (a.z ?? Infinity) - (b.z ?? Infinity));
  }

  /** The topmost settled (not pending) shape under board point p, or undefined. */
  topAt(p, slop) {
    return this.ordered().reverse().find((s) => !s.pending && hits(s, p, slop));
  }
}

/** Loads a snapshot into `state` until it applies: fetch() (a board.snapshot request, or the
 *  REST GET after a failed resume) is retried after each failure with snapshotRetryDelay,
 *  and at once when the snapshot is older than dropped events.  Stops (returning false)
 *  when isCurrent() turns false: a newer load replaced this one.  onFailure(err, delayMs)
 *  is told of each failure, so the page can say the board is unavailable and retrying. */
export async function loadSnapshot(state, fetch, { isCurrent = () => true, onFailure = () => {}, sleep } = {}) {
  const pause = sleep || ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  state.awaitSnapshot();
  for (let failures = 0; isCurrent();) {
    let snap;
    try {
      snap = await fetch();
    } catch (err) {
      if (!isCurrent()) return false;
      const delay = snapshotRetryDelay(failures++);
      onFailure(err, delay);
      await pause(delay);
      continue;
    }
    if (!isCurrent()) return false;
    if (state.applySnapshot(snap)) return true;
  }
  return false;
}
