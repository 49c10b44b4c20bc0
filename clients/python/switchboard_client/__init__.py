"""Python client for the Switchboard realtime protocol (docs/client-python.md).

    from switchboard_client import Client, Gap

    async with Client("http://127.0.0.1:8000", token=TOKEN) as client:
        async for item in client.subscribe("room:lobby"):
            if isinstance(item, Gap):
                ...  # history lost: refetch over REST
            else:
                print(item.event, item.seq, item.data)
"""

from switchboard_client.client import Client
from switchboard_client.errors import (
    BadRequest,
    ClientClosed,
    ClientFailure,
    Conflict,
    Disconnected,
    Forbidden,
    Internal,
    Invalid,
    NotFound,
    NotSubscribed,
    ProtocolError,
    RateLimited,
    RequestTimeout,
    ServerError,
    TooLarge,
    TooManySubscriptions,
    Unauthenticated,
    Unavailable,
    UnknownAction,
    UnknownTopic,
)
from switchboard_client.subscription import Event, Gap, Subscription
from switchboard_client.sync import SyncClient, SyncSubscription

__all__ = [
    "BadRequest", "Client", "ClientClosed", "Conflict", "Disconnected", "Event", "Forbidden", "Gap",
    "Internal", "Invalid", "NotFound", "NotSubscribed", "ProtocolError", "RateLimited", "RequestTimeout",
    "ServerError", "ClientFailure",
    "Subscription", "SyncClient", "SyncSubscription", "TooLarge", "TooManySubscriptions", "Unauthenticated",
    "Unavailable", "UnknownAction", "UnknownTopic",
]
