// The socket's identity: the CSRF token and the ticket request (the ticket mode connects
// with a ticket), and the renewal in place before the server's REALTIME_AUTH_MAX_AGE runs
// out: auth.refresh with a fresh ticket, on the same socket, so no reconnect and no
// resubscribe.  refreshDelay is tested by tests/js/client-timing.test.mjs.

/** Reads the CSRF token: a {% csrf_token %}-rendered meta tag, else the csrftoken cookie. */
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta && meta.content) return meta.content;
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** POSTs ticketUrl with the session cookie and CSRF header: {ticket, auth_expires_in},
 *  or null when the session no longer signs us in (401/403). */
export async function fetchTicket(ticketUrl) {
  const resp = await fetch(ticketUrl, {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
  });
  if (resp.status === 401 || resp.status === 403) return null;
  if (!resp.ok) throw new Error(`ticket request failed: ${resp.status}`);
  return resp.json();
}

/** Milliseconds until an identity that expires in `seconds` should be renewed: when
 *  refreshShare of its lifetime is left, at least refreshMargin ahead, never below 0.
 *  null when `seconds` is not a number (anonymous: nothing expires). */
export function refreshDelay(seconds, { refreshShare, refreshMargin }) {
  if (typeof seconds !== "number") return null;
  const lifetime = seconds * 1000;
  const lead = Math.max(refreshMargin, lifetime * refreshShare);
  return Math.max(0, lifetime - lead);
}

export class AuthRenewal {
  /** client: ws, isOpen(), request(), options (ticketUrl, refreshShare, refreshMargin,
   *  refreshRetry). */
  constructor(client) {
    this.client = client;
    this.timer = null;
  }

  /** A reply carrying auth_expires_in (ping, auth.refresh): (re)plans the refresh. */
  expiresIn(reply) {
    const delay = refreshDelay(reply && reply.auth_expires_in, this.client.options);
    if (delay !== null) this.plan(delay);
  }

  /** Refreshes the current socket's identity after `delay` ms, if it is still open then. */
  plan(delay) {
    clearTimeout(this.timer);
    const client = this.client;
    const ws = client.ws;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (ws === client.ws && client.isOpen()) this.refresh(ws);
    }, delay);
  }

  /** auth.refresh with a fresh ticket: same socket, subscriptions and seqs. */
  async refresh(ws) {
    const client = this.client;
    try {
      const body = await fetchTicket(client.options.ticketUrl);
      if (body === null || ws !== client.ws) return; // signed out: the server closes 4401
      const reply = await client.request("auth.refresh", null, { ticket: body.ticket });
      if (ws === client.ws) this.expiresIn(reply);
    } catch (err) {
      console.warn("realtime: identity refresh failed; trying again", err);
      if (ws === client.ws) this.plan(client.options.refreshRetry);
    }
  }

  /** Called when the socket has dropped or the client closed: no refresh planned. */
  stop() {
    clearTimeout(this.timer);
    this.timer = null;
  }
}
