"""Liveness and readiness probes.

/healthz answers 200 while the process can run a view at all (for a supervisor's restart
decision); /readyz checks each dependency a request may need -- the database, the channel
layer (Redis) and the Celery broker decide the status; workers are reported only -- and
answers 200 or 503 (for a load balancer's routing decision).

Anyone gets the status alone; which check failed, the Redis address and the worker names
are only for staff (session or API token) and for a caller on this machine (loopback
without X-Forwarded-For: nginx's proxied requests arrive from loopback too, with the header).
"""

import asyncio
import time
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from rest_framework.authentication import TokenAuthentication

from realtime.client_address import is_direct_loopback

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


def _ping_workers():
    from project.celery import app

    try:
        replies = app.control.ping(timeout=WORKER_PING_TIMEOUT) or []
    except Exception as exc:  # reported only: readiness does not depend on workers
        return {"ok": False, "count": 0, "error": str(exc)}
    names = sorted(name for reply in replies for name in reply)
    return {"ok": bool(names), "count": len(names), "names": names}


# The last worker ping of this process: {"at", "result", "task"} (the task while in flight).
_workers = {"at": None, "result": None, "task": None}


async def _check_workers():
    """The workers' ping, at most one per READYZ_WORKER_PING_CACHE_SECONDS per process:
    a broadcast ping waits WORKER_PING_TIMEOUT for replies, so a flood of probes would
    otherwise be a flood of broadcasts.  Concurrent callers await the same ping."""
    loop = asyncio.get_running_loop()
    at, task = _workers["at"], _workers["task"]
    if at is not None and time.monotonic() - at < settings.READYZ_WORKER_PING_CACHE_SECONDS:
        return _workers["result"]
    if task is None or task.done() or task.get_loop() is not loop:
        task = _workers["task"] = loop.create_task(_ping_and_remember())
    return await asyncio.shield(task)  # a caller's timeout does not cancel the others' ping


async def _ping_and_remember():
    result = await sync_to_async(_ping_workers, thread_sensitive=False)()
    _workers["result"], _workers["at"] = result, time.monotonic()
    return result


def may_see_details(request):
    """Whether /readyz may name what failed: a caller on this machine (not proxied) or
    staff, by session or API token.  Any failure of the lookup (the database is down, a
    bad token) means no."""
    if is_direct_loopback(request):
        return True
    try:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff:
            return True
        found = TokenAuthentication().authenticate(request)
        return bool(found and found[0].is_active and found[0].is_staff)
    except Exception:
        return False


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
    """200 {"status": "ok"} or 503 {"status": "unavailable"}; for staff and local callers
    also "failing" (the required checks that failed) and each check's details."""
    results = {}
    await asyncio.gather(
        _run("database", _check_database, results),
        _run("channel_layer", _check_channel_layer, results),
        _run("broker", _check_broker, results),
        _run("workers", _check_workers, results),
    )
    required = ("database", "channel_layer", "broker")
    failing = [name for name in required if not results[name].get("ok")]
    body = {"status": "ok" if not failing else "unavailable"}
    if await sync_to_async(may_see_details, thread_sensitive=False)(request):
        body.update(failing=failing, checks=results)
    return JsonResponse(body, status=503 if failing else 200)
