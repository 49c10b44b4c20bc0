"""A blocking facade for scripts and Celery tasks: the asyncio `Client` on a private event
loop in a daemon thread.

    with SyncClient("http://127.0.0.1:8000", token=TOKEN) as client:
        client.request("chat.send", "room:lobby", {"body": "hi", "client_id": "job-17"})
        for item in client.subscribe("feed:news"):
            ...

Every method may be called from any thread; each call blocks its caller only.
"""

import asyncio
import concurrent.futures
import threading

from switchboard_client import options
from switchboard_client.client import Client


class SyncClient:
    """Same arguments as `Client`; connects in the constructor (raising what
    `Client.connect()` raises) unless `connect=False` (then call connect())."""

    def __init__(self, url, *, connect=True, connect_timeout=options.FIRST_CONNECT_TIMEOUT, **kwargs):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="switchboard-client",
                                        daemon=True)
        self._thread.start()
        self._client = self._call(self._make(url, kwargs))
        if connect:
            self.connect(connect_timeout)

    async def _make(self, url, kwargs):
        return Client(url, **kwargs)

    def _call(self, coro, timeout=None):
        """Runs `coro` on the private loop; a caller's timeout cancels it there."""
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no result within {timeout} s") from None

    @property
    def client(self):
        """The asyncio Client underneath (its attributes: state, connects, close_code...)."""
        return self._client

    def connect(self, timeout=options.FIRST_CONNECT_TIMEOUT):
        self._call(self._client.connect(timeout))
        return self

    def request(self, action, topic=None, data=None, *, timeout=None, retry=False):
        """As Client.request(), blocking."""
        return self._call(self._client.request(action, topic, data, timeout=timeout, retry=retry))

    def subscribe(self, topic, *, since=None):
        """A blocking iterator of the topic's `Event`s and `Gap`s (see Client.subscribe)."""
        return SyncSubscription(self, self._call(self._subscribe(topic, since)))

    async def _subscribe(self, topic, since):
        return self._client.subscribe(topic, since=since)

    def close(self):
        """Closes the client and stops its thread; idempotent."""
        if self._loop.is_closed():
            return
        if self._thread.is_alive():
            self._call(self._client.close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        self._loop.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SyncSubscription:
    """`for item in sub` blocks for each item; `sub.get(timeout)` raises TimeoutError when
    nothing came in time (nothing is lost: the item stays queued)."""

    def __init__(self, owner, subscription):
        self._owner = owner
        self.subscription = subscription

    @property
    def topic(self):
        return self.subscription.topic

    @property
    def seen_seq(self):
        return self.subscription.seen_seq

    def ready(self, timeout=None):
        """The first subscribe reply, or its error."""
        return self._owner._call(self.subscription.ready(), timeout)

    def get(self, timeout=None):
        """The next item; StopIteration when the subscription ended."""
        try:
            return self._owner._call(self.subscription.__anext__(), timeout)
        except StopAsyncIteration:
            raise StopIteration from None

    def __iter__(self):
        return self

    def __next__(self):
        return self.get()

    def close(self):
        self._owner._call(self.subscription.close())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
