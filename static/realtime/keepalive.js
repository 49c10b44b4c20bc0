// The ping that keeps an open socket alive and proves it is: one every pingInterval (so
// proxies and the server's idle limit never close it), and a socket whose ping goes
// unanswered for pingTimeout is half-open (laptop sleep, NAT timeout): dropped, so the
// client reconnects.  Every ping reply also says how long the identity has left.

// The close code this client uses for a socket it gave up on (a ping or a subscribe without
// an answer): in the application range 4000-4999, and one the server never sends.
export const UNHEALTHY = 4000;

export class Keepalive {
  /** client: isOpen(), ws, request(), _onClose(ws, ev), renewal, options. */
  constructor(client) {
    this.client = client;
    this.timer = null;
    this.watchdog = null;
  }

  /** Called when the socket has opened: pings every pingInterval until stop(). */
  start() {
    this.stop();
    const client = this.client;
    const { pingInterval, pingTimeout } = client.options;
    this.timer = setInterval(() => {
      if (!client.isOpen()) return;
      const ws = client.ws;
      clearTimeout(this.watchdog);
      this.watchdog = setTimeout(() => {
        // No pong: the socket is half-open.
        if (ws === client.ws) {
          ws.close(UNHEALTHY, "ping timeout");
          client._onClose(ws, { code: UNHEALTHY });
        }
      }, pingTimeout);
      client.request("ping", null, {}, { timeout: pingTimeout })
        .then((reply) => {
          clearTimeout(this.watchdog);
          client.renewal.expiresIn(reply);
        })
        .catch(() => {});
    }, pingInterval);
  }

  /** Called when the socket has dropped: no more pings, no pending watchdog. */
  stop() {
    clearInterval(this.timer);
    clearTimeout(this.watchdog);
    this.timer = null;
  }
}
