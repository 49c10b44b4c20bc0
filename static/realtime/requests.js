// The requests awaiting their reply: request ids, reply matching, timeouts, the queue of
// frames waiting for an open socket, what a dropped socket does to each request, and the
// resend of a retry: true request answered `overloaded` (with the topic's later retry: true
// requests held behind it, so the server still gets them in the user's order).  No DOM and
// no WebSocket: the client hands it send(frame) and isOpen().  Tested by
// tests/js/client-requests.test.mjs, client-overload.test.mjs and client-overload-order.test.mjs.

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
    this.pending = new Map(); // request_id -> {resolve, reject, timer, frame, retry, sent, n, hold}
    this.queue = []; // ids of requests waiting for an open socket, oldest first
    // topic -> its retry: true requests caught up in an `overloaded` answer, oldest first:
    // each entry's `hold` is "overloaded" (waiting out retry_after), "resent" (sent again,
    // not answered yet) or "held" (not sent: an earlier one of the topic is in the line).
    // Of the line only its oldest is ever on the wire, and the topic's new retry: true
    // requests join its end while it exists, so the server gets them in the user's order.
    this.lines = new Map();
    this.nextId = 1;
  }

  /** A new request: a Promise of the reply's data, or a RealtimeError (the error frame of
   *  its request_id, or "timeout" after `timeout` ms).  Sent now when the socket is open,
   *  else queued for flush(). */
  request(action, topic, data, { timeout, retry = false }) {
    const n = this.nextId++;
    const id = `c${n}`;
    const frame = { action, request_id: id, data: data || {} };
    if (topic) frame.topic = topic;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.settle(id, null, { code: "timeout", message: `No reply to ${action} within ${timeout} ms.` });
      }, timeout);
      const entry = { resolve, reject, timer, frame, retry: !!retry, sent: false, n, hold: null };
      this.pending.set(id, entry);
      // A retry: true request of a topic with a line waits in it (its timeout runs).
      if (entry.retry && topic && this.lines.has(topic)) this._join(entry, "held");
      else this._send(entry);
    });
  }

  /** Sends the entry's frame now when the socket is open, else queues it for flush(). */
  _send(entry) {
    if (this.isOpen()) this._transmit(entry.frame);
    else if (!this.queue.includes(entry.frame.request_id)) this.queue.push(entry.frame.request_id);
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
    if (entry.hold === "overloaded") return true; // its resend is already scheduled
    entry.sent = false; // answered: not in flight, a drop now does not resend it
    const topic = entry.frame.topic;
    if (!topic) {
      entry.hold = "overloaded";
      entry.resend = setTimeout(() => { entry.hold = null; this._send(entry); },
        overloadDelay(error.retry_after, this.random()));
      return true;
    }
    if (entry.hold === null) this._join(entry, "overloaded");
    else entry.hold = "overloaded";
    entry.resend = setTimeout(() => {
      entry.hold = "held";
      this._release(topic);
    }, overloadDelay(error.retry_after, this.random()));
    return true;
  }

  /** Puts a retry: true entry into its topic's line, in the order the requests were made
   *  (an in-flight request answered `overloaded` may be older than the held ones). */
  _join(entry, hold) {
    const topic = entry.frame.topic;
    const line = this.lines.get(topic) || [];
    let at = line.length;
    while (at > 0 && line[at - 1].n > entry.n) at -= 1;
    line.splice(at, 0, entry);
    this.lines.set(topic, line);
    entry.hold = hold;
  }

  /** Called when a line's entry has come due or settled: when nothing of the topic is on the
   *  wire or waiting out retry_after, sends the oldest held request.  One at a time: a
   *  request sent while the one before it could still be refused could be accepted first. */
  _release(topic) {
    const line = this.lines.get(topic);
    if (!line) return;
    if (line.length === 0) {
      this.lines.delete(topic);
      return;
    }
    if (line.some((entry) => entry.hold !== "held")) return;
    line[0].hold = "resent";
    this._send(line[0]);
  }

  /** Ends request `id` once: resolves with data, or rejects with a RealtimeError of error.
   *  Unknown or already settled ids are ignored (a late reply after a timeout). */
  settle(id, data, error) {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    clearTimeout(entry.resend);
    this.queue = this.queue.filter((q) => q !== id);
    const line = entry.hold && entry.frame.topic && this.lines.get(entry.frame.topic);
    if (line) {
      line.splice(line.indexOf(entry), 1);
      this._release(entry.frame.topic);
    }
    if (error) entry.reject(new RealtimeError(error));
    else entry.resolve(data);
  }
}
