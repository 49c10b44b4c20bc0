// Undo and redo of this tab's own whiteboard changes, without the DOM or the socket.  Every
// step is an ordinary change that reaches everyone (docs/protocol/whiteboard.md, "Undo"):
//   undo a draw  = erase the shape at the version our draw gave it;
//   undo an erase = redraw the same id, same content, at the version the erase reported;
// redo is the same the other way.  Each entry remembers the shape's version after its last
// step, so a shape someone else changed since is a `conflict`, never silently overwritten.
// Tested by tests/js/board-history.test.mjs.

// Steps remembered per tab: plenty for a drawing session, bounded memory.
export const HISTORY_LIMIT = 200;
// Failures after which an entry stays on its stack to be tried again (the change may still
// be valid); any other error (conflict, not_found, forbidden...) means the shape moved on
// without us, so the entry is dropped.
const TRANSIENT = new Set(["timeout", "disconnected", "rate_limited", "unavailable", "internal"]);

/** The inverse of an entry's last step: {action: "erase", id, version} or
 *  {action: "draw", shape: {id, kind, data, version}}. */
function inverse(entry, undoing) {
  const erase = (entry.op === "draw") === undoing;
  if (erase) return { action: "erase", id: entry.shape.id, version: entry.version };
  const { id, kind, data } = entry.shape;
  return { action: "draw", shape: { id, kind, data: structuredClone(data), version: entry.version } };
}

export class History {
  constructor({ limit = HISTORY_LIMIT, onChange = () => {} } = {}) {
    this.undoStack = [];
    this.redoStack = [];
    this.limit = limit;
    this.onChange = onChange;
    this.queue = Promise.resolve(); // undo/redo steps run one at a time, in order
  }

  get canUndo() { return this.undoStack.length > 0; }
  get canRedo() { return this.redoStack.length > 0; }

  /** Called after a change of ours succeeded: op "draw" or "erase" of `shape` ({id, kind,
   *  data}), `version` the shape's version the server reported for it.  Clears redo. */
  record(op, shape, version) {
    this.undoStack.push({ op, shape: { id: shape.id, kind: shape.kind, data: structuredClone(shape.data) }, version });
    if (this.undoStack.length > this.limit) this.undoStack.shift();
    this.redoStack.length = 0;
    this.onChange();
  }

  /** Forgets everything (the board was cleared: no step of ours applies any more). */
  clear() {
    this.undoStack.length = 0;
    this.redoStack.length = 0;
    this.onChange();
  }

  /** Undoes the latest entry through perform(step) -> Promise of the shape's new version
   *  (see inverse()).  Resolves true when done, false when there was nothing to undo;
   *  rejects with perform's error (the entry kept for a transient one, dropped otherwise). */
  undo(perform) { return this._step(this.undoStack, this.redoStack, true, perform); }

  /** Redoes the latest undone entry; as undo(). */
  redo(perform) { return this._step(this.redoStack, this.undoStack, false, perform); }

  _step(from, to, undoing, perform) {
    const run = async () => {
      const entry = from.pop();
      if (!entry) return false;
      this.onChange();
      try {
        entry.version = await perform(inverse(entry, undoing));
      } catch (err) {
        if (TRANSIENT.has(err && err.code)) from.push(entry);
        this.onChange();
        throw err;
      }
      to.push(entry);
      this.onChange();
      return true;
    };
    const result = this.queue.then(run);
    this.queue = result.catch(() => {});
    return result;
  }
}
