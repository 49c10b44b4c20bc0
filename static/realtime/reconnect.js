// When to try the socket again: exponential backoff with full jitter after a failure, at
// least floodBackoff after a close 4429, and the attempt count reset once a connection has
// stayed up for stableAfter.  backoffDelay is tested by tests/js/client-timing.test.mjs.

/** The wait before the reconnect after `attempt` earlier tries: backoffBase * 2^attempt,
 *  capped at backoffMax, then a random 50-100 % of it (`random` is in [0, 1)) so a server
 *  restart is not met by every tab at the same instant; at least `minimum` ms. */
export function backoffDelay(attempt, { backoffBase, backoffMax }, random, minimum = 0) {
  const exp = Math.min(backoffMax, backoffBase * 2 ** attempt);
  return Math.max(minimum, Math.round(exp * (0.5 + random * 0.5)));
}

export class Reconnector {
  /** client: stopped, connect(), _setState(), unauthorizedCloses, options. */
  constructor(client) {
    this.client = client;
    this.attempt = 0;
    this.timer = null;
    this.stableTimer = null;
  }

  /** Called when a connection attempt failed or the socket closed: plans the next try
   *  (once; a try already planned stands) and reports "reconnecting" with its time. */
  schedule(minimum = 0, closeCode = null) {
    const client = this.client;
    if (client.stopped || this.timer) return;
    const delay = backoffDelay(this.attempt, client.options, Math.random(), minimum);
    this.attempt += 1;
    const retryAt = Date.now() + delay;
    client._setState("reconnecting", { retryAt, closeCode });
    this.timer = setTimeout(() => {
      this.timer = null;
      client.connect();
    }, delay);
  }

  /** Forgets the planned try (connecting now, offline, closed). */
  cancel() {
    clearTimeout(this.timer);
    this.timer = null;
  }

  /** Called when the socket has opened: a connection that lasts resets the backoff. */
  opened() {
    clearTimeout(this.stableTimer);
    this.stableTimer = setTimeout(() => {
      this.attempt = 0;
      this.client.unauthorizedCloses = 0;
    }, this.client.options.stableAfter);
  }

  /** Called when the socket has dropped: it did not last. */
  closed() {
    clearTimeout(this.stableTimer);
  }
}
