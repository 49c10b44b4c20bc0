"""The REST side: a connect ticket from `POST /api/auth/ticket/` (token auth).

Standard library only (urllib, run in a worker thread): one small POST per connect does not
justify an HTTP client dependency.
"""

import asyncio
import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit, urlunsplit

from switchboard_client.errors import ProtocolError, Unavailable


def endpoints(url, ws_path="/ws/", ticket_path="/api/auth/ticket/"):
    """(site base URL, ticket URL, WebSocket URL) from the site's URL (http/https/ws/wss)."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    if scheme not in ("http", "https"):
        raise ValueError(f"url must be http(s):// or ws(s)://, not {url!r}")
    prefix = parts.path.rstrip("/")
    if prefix.endswith(ws_path.rstrip("/")):
        prefix = prefix[: -len(ws_path.rstrip("/"))]
    base = urlunsplit((scheme, parts.netloc, prefix, "", ""))
    ws_scheme = "wss" if scheme == "https" else "ws"
    return base, base + ticket_path, urlunsplit((ws_scheme, parts.netloc, prefix + ws_path, "", ""))


def post_json(url, *, token=None, body=None, timeout=10.0, user_agent="switchboard-client"):
    """Blocking POST of `body` (JSON) -> the parsed JSON answer.  A 4xx/5xx raises the typed
    error of the answer's `{"error": {...}}` (with `retry_after` from Retry-After when the body
    has none); a network failure raises `Unavailable`."""
    data = json.dumps(body if body is not None else {}).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/json", "Accept": "application/json", "User-Agent": user_agent})
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            payload = json.loads(raw)["error"]
        except (ValueError, KeyError, TypeError):
            payload = {"code": "unavailable" if exc.code >= 500 else "bad_request",
                       "message": f"HTTP {exc.code} from {url}"}
        error = ProtocolError.from_payload(payload, status=exc.code)
        if error.retry_after is None and exc.headers.get("Retry-After", "").isdigit():
            error.retry_after = float(exc.headers["Retry-After"])
        raise error from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        # Connection refused (a restarting server), DNS, TLS, a reset or a non-JSON answer:
        # transient from the client's side, so the reconnect loop retries with backoff.
        raise Unavailable(f"ticket request to {url} failed: {exc}") from exc


async def fetch_ticket(url, token, timeout=10.0):
    """The ticket string (single use, valid REALTIME_TICKET_TTL, 30 s by default).  The answer's
    `auth_expires_in` is not needed: the first ping reply on the socket tells it too."""
    answer = await asyncio.to_thread(post_json, url, token=token, timeout=timeout)
    if not isinstance(answer, dict) or not isinstance(answer.get("ticket"), str):
        raise Unavailable(f"unexpected ticket answer from {url}: {answer!r}")
    return answer["ticket"]
