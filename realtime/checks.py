"""System checks: realtime timers that only make sense in a given order."""

from django.conf import settings
from django.core.checks import Error, register


@register()
def timer_order(app_configs, **kwargs):
    errors = []
    beat = settings.REALTIME_HEARTBEAT_INTERVAL
    if settings.REALTIME_CONNECTION_STALE_AFTER <= beat:
        errors.append(Error(
            "REALTIME_CONNECTION_STALE_AFTER must be longer than REALTIME_HEARTBEAT_INTERVAL",
            hint="Otherwise the connection sweep closes rows of live processes.", id="realtime.E001"))
    if settings.REALTIME_PRESENCE_TTL <= beat:
        errors.append(Error(
            "REALTIME_PRESENCE_TTL must be longer than REALTIME_HEARTBEAT_INTERVAL",
            hint="Otherwise live users drop out of presence between heartbeats.", id="realtime.E002"))
    if settings.REALTIME_IDLE_TIMEOUT <= settings.REALTIME_CLIENT_PING_INTERVAL:
        errors.append(Error(
            "REALTIME_IDLE_TIMEOUT must be longer than REALTIME_CLIENT_PING_INTERVAL",
            hint="Otherwise pinging clients are closed as idle.", id="realtime.E003"))
    return errors
