"""One HTTP attempt: POST the signed body to the checked address, no redirects followed.

httpx (pinned in requirements.txt) connects to the address realtime.webhooks.ssrf
resolved and checked; the Host header and the TLS SNI / certificate check use the URL's
name.  A fresh client per attempt: a pooled connection is keyed by address alone and could
carry one name's TLS session to another.
"""

import ipaddress
import ssl
import time
from dataclasses import dataclass

import httpx

from realtime.webhooks import conf, signing, ssrf

USER_AGENT = "Switchboard-Webhooks/1"


@dataclass
class Outcome:
    ok: bool
    status_code: int | None
    duration_ms: int
    error: str
    excerpt: str


def post(url, secret, body, *, event_id, event_type, attempt):
    """Sends `body` (bytes) to `url`; returns an Outcome, never raises for network or
    receiver failures (an SSRF refusal is an Outcome too: retried, in case DNS changes)."""
    started = time.monotonic()

    def outcome(ok=False, status=None, error="", excerpt=""):
        return Outcome(ok, status, int((time.monotonic() - started) * 1000), error[:300], excerpt)

    try:
        scheme, host, port = ssrf.parse(url)
        addresses = ssrf.resolve_all(url)
    except ssrf.Refused as exc:
        return outcome(error=f"refused: {exc.message}")
    default_port = 443 if scheme == "https" else 80
    headers = {
        "Host": host if port == default_port else f"{_bracketed(host)}:{port}",
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        signing.HEADER: signing.header(secret, body),
        "Switchboard-Event-Id": event_id,
        "Switchboard-Event-Type": event_type,
        "Switchboard-Attempt": str(attempt),
    }
    for index, address in enumerate(addresses):
        try:
            response, excerpt = _send(httpx.URL(url).copy_with(host=str(ipaddress.ip_address(address))),
                                      body, headers, host if scheme == "https" else None)
            break
        except httpx.ConnectError as exc:
            if index == len(addresses) - 1:  # the next checked address, if any (dual stack)
                return outcome(error=f"ConnectError: {exc}")
        except httpx.HTTPError as exc:
            return outcome(error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        except OSError as exc:
            return outcome(error=f"{type(exc).__name__}: {exc}")
    limit = conf.get("WEBHOOKS_RESPONSE_EXCERPT")
    text = excerpt[:limit].decode("utf-8", "replace")
    ok = 200 <= response.status_code < 300
    return outcome(ok=ok, status=response.status_code, excerpt=text,
                   error="" if ok else f"HTTP {response.status_code}")


def _send(target, body, headers, sni_hostname):
    """POSTs to the checked address; (response, the first WEBHOOKS_RESPONSE_EXCERPT bytes
    of its body).  The rest of a long body is never read."""
    limit = conf.get("WEBHOOKS_RESPONSE_EXCERPT")
    extensions = {"sni_hostname": sni_hostname} if sni_hostname else {}
    with httpx.Client(timeout=conf.get("WEBHOOKS_TIMEOUT"), follow_redirects=False,
                      trust_env=False, verify=_verify()) as client:
        request = client.build_request("POST", target, content=body, headers=headers,
                                       extensions=extensions)
        response = client.send(request, stream=True)
        try:
            excerpt = b""
            for chunk in response.iter_raw():
                excerpt += chunk
                if len(excerpt) >= limit:
                    break
        finally:
            response.close()
    return response, excerpt


def _verify():
    """httpx's `verify`: True (the public CAs), or a context trusting WEBHOOKS_VERIFY's bundle."""
    bundle = conf.get("WEBHOOKS_VERIFY")
    return ssl.create_default_context(cafile=bundle) if isinstance(bundle, str) else bool(bundle)


def _bracketed(host):
    return f"[{host}]" if ":" in host else host
