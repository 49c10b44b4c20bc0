"""Liveness and readiness probes.

/healthz answers 200 while the process can run a view at all (for a supervisor's restart
decision); /readyz checks each dependency a request may need and answers 503 naming the
first part that fails (for a load balancer's routing decision).
"""

import asyncio
import time
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import JsonResponse

# Seconds each readiness check may take: a load balancer probes every few seconds and a
# dependency slower than this is as good as down for a real-time site.
READY_CHECK_TIMEOUT = 2.0
# Seconds to wait for a Celery worker's pong; a missing worker is reported, not fatal.
WORKER_PING_TIMEOUT = 1.0


def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True, "vendor": connection.vendor}


async def _check_channel_layer():
    layer = get_channel_layer()
    channel = await layer.new_channel("readyz.")
    token = str(time.monotonic_ns())
    await layer.send(channel, {"type": "readyz.ping", "token": token})
    message = await layer.receive(channel)
    if message.get("token") != token:
        raise RuntimeError("channel layer returned a different message")
    return {"ok": True, "redis": _describe_redis()}


def _describe_redis():
    url = settings.REDIS_URL
    if settings.EMBEDDED_REDIS_SOCKET:
        return {"embedded": True, "socket": str(settings.EMBEDDED_REDIS_SOCKET)}
    parts = urlsplit(url)
    return {"embedded": False, "host": parts.hostname or parts.path, "port": parts.port}


def _check_broker():
    from project.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=READY_CHECK_TIMEOUT)
        transport = conn.transport_cls
    return {"ok": True, "transport": str(transport)}


def _check_workers():
    from project.celery import app

    try:
        replies = app.control.ping(timeout=WORKER_PING_TIMEOUT) or []
    except Exception as exc:  # reported only: readiness does not depend on workers
        return {"ok": False, "count": 0, "error": str(exc)}
    names = sorted(name for reply in replies for name in reply)
    return {"ok": bool(names), "count": len(names), "names": names}


async def _run(name, check, results):
    try:
        if asyncio.iscoroutinefunction(check):
            results[name] = await asyncio.wait_for(check(), READY_CHECK_TIMEOUT)
        else:
            results[name] = await asyncio.wait_for(
                sync_to_async(check, thread_sensitive=False)(), READY_CHECK_TIMEOUT + 1
            )
    except Exception as exc:
        results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


async def readyz(request):
    """JSON status of database, channel layer and broker; 503 naming what failed."""
    results = {}
    await asyncio.gather(
        _run("database", _check_database, results),
        _run("channel_layer", _check_channel_layer, results),
        _run("broker", _check_broker, results),
        _run("workers", _check_workers, results),
    )
    required = ("database", "channel_layer", "broker")
    failing = [name for name in required if not results[name].get("ok")]
    body = {"status": "ok" if not failing else "unavailable", "failing": failing, "checks": results}
    return JsonResponse(body, status=503 if failing else 200)
