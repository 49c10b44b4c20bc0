// The requests awaiting their reply: request ids, reply matching, timeouts, the queue of
// frames waiting for an open socket, what a dropped socket does to each request, and the
// resend of a retry: true request answered `overloaded`.  No DOM and no WebSocket: the
// client hands it send(frame) and isOpen().  Tested by tests/js/client-requests.test.mjs
// and tests/js/client-overload.test.mjs.

/** An error frame (or a client-side failure such as "timeout" / "disconnected"). */
export class RealtimeError extends Error {
  constructor(error) {
    super(error.message || error.code);
    this.name = "RealtimeError";
    this.code = error.code;
    this.field = error.field;
    this.data = error.data;
    this.retryAfter = error.retry_after;
  }
}

/** Milliseconds to wait before resending a request answered `overloaded`: the server's
 *  retry_after (seconds; 1 s when missing), plus up to half again at random so the tabs
 *  refused together do not all come back in the same instant.  `random` is in [0, 1). */
export function overloadDelay(retryAfter, random) {
  const base = (typeof retryAfter === "number" && retryAfter > 0 ? retryAfter : 1) * 1000;
  return Math.round(base * (1 + 0.5 * random));
}

export class RequestTable {
  /** send(frame) writes a frame to the open socket; isOpen() says whether there is one;
   *  random() gives the overload retry's jitter. */
  constructor({ send, isOpen, random = Math.random }) {
    this.send = send;
    this.isOpen = isOpen;
    this.random = random;
    this.pending = new Map(); // request_id -> {resolve, reject, timer, frame, retry, sent}
    this.queue = []; // ids of requests waiting for an open socket, oldest first
    this.nextId = 1;
  }

  /** A new request: a Promise of the reply's data, or a RealtimeError (the error frame of
   *  its request_id, or "timeout" after `timeout` ms).  Sent now when the socket is open,
   *  else queued for flush(). */
  request(action, topic, data, { timeout, retry = false }) {
    const id = `c${this.nextId++}`;
    const frame = { action, request_id: id, data: data || {} };
    if (topic) frame.topic = topic;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.settle(id, null, { code: "timeout", message: `No reply to ${action} within ${timeout} ms.` });
      }, timeout);
      this.pending.set(id, { resolve, reject, timer, frame, retry: !!retry, sent: false });
      if (this.isOpen()) this._transmit(frame);
      else this.queue.push(id);
    });
  }

  _transmit(frame) {
    const entry = this.pending.get(frame.request_id);
    if (entry) entry.sent = true;
    this.send(frame);
  }

  /** Called when the socket has opened (after the resubscribes): sends the requests that
   *  waited for it, in the order they were made. */
  flush() {
    const queued = this.queue;
    this.queue = [];
    for (const id of queued) {
      const entry = this.pending.get(id);
      if (entry) this._transmit(entry.frame);
    }
  }

  /** Called when the socket has dropped.  Requests in flight: idempotent ones (retry: true)
   *  wait for the next open; the others fail with "disconnected" now, since nobody can know
   *  whether the server did them.  Requests not sent yet keep waiting. */
  dropped() {
    for (const [id, entry] of this.pending) {
      if (!entry.sent) continue;
      if (entry.retry) {
        entry.sent = false;
        this.queue.push(id);
      } else {
        this.settle(id, null, { code: "disconnected", message: "The connection was lost." });
      }
    }
  }

  /** A reply or error frame from the server: settles the request of its request_id (an
   *  `overloaded` error for a retry: true request is resent instead).  False for an error
   *  frame that names no request (the server's complaint about a notify). */
  answer(frame) {
    if (frame.type === "reply") {
      this.settle(frame.request_id, frame.data || {}, null);
      return true;
    }
    if (frame.request_id === null || frame.request_id === undefined) return false;
    if (!this.retryOverloaded(frame.request_id, frame.error)) {
      this.settle(frame.request_id, null, frame.error || { code: "internal" });
    }
    return true;
  }

  /** An `overloaded` answer to a retry: true request (nothing was written): sends the same
   *  frame again (same request_id, same client_id: no duplicate) after retry_after with
   *  jitter, until the request's own timeout.  True when it will be retried. */
  retryOverloaded(id, error) {
    const entry = this.pending.get(id);
    if (!entry || !entry.retry || !error || error.code !== "overloaded") return false;
    setTimeout(() => {
      if (this.pending.get(id) !== entry) return; // settled meanwhile (timeout, reply)
      if (this.isOpen()) this._transmit(entry.frame);
      else if (!this.queue.includes(id)) this.queue.push(id);
    }, overloadDelay(error.retry_after, this.random()));
    return true;
  }

  /** Ends request `id` once: resolves with data, or rejects with a RealtimeError of error.
   *  Unknown or already settled ids are ignored (a late reply after a timeout). */
  settle(id, data, error) {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    this.queue = this.queue.filter((q) => q !== id);
    if (error) entry.reject(new RealtimeError(error));
    else entry.resolve(data);
  }
}
