// REST helper for the pages: JSON in and out, the session cookie, the CSRF token, and the
// API's one error shape {"error": {"code", "message", "field"?}} turned into an ApiError.
import { csrfToken } from "../realtime/client.js";

export class ApiError extends Error {
  constructor(status, error) {
    super((error && error.message) || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = (error && error.code) || "http_error";
    this.field = error && error.field;
  }
}

/** api(method, url, body?) -> parsed JSON (or null for 204). */
export async function api(method, url, body) {
  const headers = { Accept: "application/json" };
  const init = { method, credentials: "same-origin", headers };
  if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(url, init);
  if (resp.status === 204) return null;
  let payload = null;
  try {
    payload = await resp.json();
  } catch {
    payload = null;
  }
  if (!resp.ok) throw new ApiError(resp.status, payload && payload.error);
  return payload;
}

/** Follows a paginated list: DRF cursor pages ({results, next}) or a plain array. */
export function pageResults(payload) {
  if (Array.isArray(payload)) return { results: payload, next: null };
  return { results: payload.results || [], next: payload.next || null };
}
