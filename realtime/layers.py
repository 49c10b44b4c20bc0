"""A channel layer on Redis Cluster with sharded pub/sub (SPUBLISH / SSUBSCRIBE, Redis 7).

channels_redis has no Cluster support, and plain PUBLISH on a cluster is broadcast over
the cluster bus to every node, so fan-out capacity would not grow with shards.  Sharded
pub/sub sends a channel's messages only through the node that owns the channel's slot.

This layer keeps channels_redis's RedisPubSubChannelLayer interface and semantics (the
hub and realtime.publish use new_channel, send, receive, group_add, group_discard,
group_send, flush and cannot tell the two apart): the same per-event-loop proxy, the same
msgpack serializer, the same Redis channel names (`<prefix>__group__<group>` for a group,
the channel's own name for a specific channel), at-most-once delivery.

Per event loop: one RedisCluster client for SPUBLISH (routed to the slot's owner, its
slot map refreshed on MOVED or a connection error) and, per node that owns a subscribed
channel, one subscriber connection and one reader task.  When a node fails (connection
error, or a `sunsubscribe` it sent because its slots moved), its channels are subscribed
again on whichever nodes own them after the slot map is refreshed, retrying every
RESUBSCRIBE_INTERVAL until that succeeds.  Messages published meanwhile are lost, as on
a single Redis restart: the hubs fill gaps from the outbox (realtime/ordering.py).
"""

import asyncio
import logging
import uuid

import redis.asyncio as aredis
from channels_redis.pubsub import RedisPubSubChannelLayer
from channels_redis.utils import _wrap_close
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

logger = logging.getLogger("realtime.layers")

# Seconds between attempts to subscribe a failed node's channels again: a cluster
# failover takes cluster-node-timeout plus an election (a few seconds); retrying faster
# only adds CLUSTER SLOTS load on the surviving nodes.
RESUBSCRIBE_INTERVAL = 0.5
# Seconds a reader waits for a message before looking again (how quickly it notices it
# was stopped; messages arrive at once regardless).
READ_TIMEOUT = 1.0
# Seconds an SPUBLISH or subscription command may take (not the readers' blocking reads).
COMMAND_TIMEOUT = 5.0


class RedisClusterChannelLayer(RedisPubSubChannelLayer):
    """CHANNEL_LAYERS backend: `CONFIG: {"nodes": [(host, port), ...], "prefix": ...,
    "password": ..., "ssl": ...}` (project.env.channel_layer builds it)."""

    def _get_layer(self):
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = self._layers[loop] = ClusterLoopLayer(*self._args, **self._kwargs,
                                                          channel_layer=self)
            _wrap_close(self, loop)
            return layer


class ClusterLoopLayer:
    """The layer of one event loop (see the module docstring)."""

    extensions = ["groups", "flush"]

    def __init__(self, nodes=(), prefix="asgi", password=None, ssl=False, channel_layer=None):
        self.prefix = prefix
        self.channel_layer = channel_layer
        self.options = {"password": password, "ssl": ssl} if ssl else {"password": password}
        self.startup_nodes = list(nodes)
        self.channels = {}  # specific channel name -> asyncio.Queue of raw messages
        self.groups = {}  # group's Redis channel -> {specific channel names}
        self.subscribed = {}  # Redis channel -> _NodeReader it is subscribed through
        self.readers = {}  # node name -> _NodeReader
        self.lock = asyncio.Lock()  # subscription changes and recoveries, one at a time
        self.cluster = None
        self.recovering = None

    # --- channel layer API --------------------------------------------------------
    async def send(self, channel, message):
        await self._publish(channel, message)

    async def new_channel(self, prefix="specific."):
        channel = f"{self.prefix}{prefix}{uuid.uuid4().hex}"
        self.channels[channel] = asyncio.Queue()
        try:
            await self._subscribe(channel)
        except BaseException:
            del self.channels[channel]
            raise
        return channel

    async def receive(self, channel):
        if channel not in self.channels:
            self.channels[channel] = asyncio.Queue()
            await self._subscribe(channel)
        try:
            message = await self.channels[channel].get()
        except (TimeoutError, asyncio.CancelledError, GeneratorExit):
            # As channels_redis: a cancelled receive means the consumer is gone.
            if self.channels.pop(channel, None) is not None:
                try:
                    await self._unsubscribe(channel)
                except BaseException:
                    logger.exception("could not unsubscribe %s", channel)
            raise
        return self.channel_layer.deserialize(message)

    async def group_add(self, group, channel):
        if channel not in self.channels:
            raise RuntimeError("You can only call group_add() on channels that exist in-process.")
        name = self._group_channel(group)
        self.groups.setdefault(name, set()).add(channel)
        await self._subscribe(name)

    async def group_discard(self, group, channel):
        name = self._group_channel(group)
        members = self.groups.get(name, set())
        if channel not in members:
            return
        members.discard(channel)
        if not members:
            del self.groups[name]
            await self._unsubscribe(name)

    async def group_send(self, group, message):
        await self._publish(self._group_channel(group), message)

    async def flush(self):
        """Drops every channel and group and closes every connection (usable again after)."""
        self.channels, self.groups = {}, {}
        async with self.lock:
            if self.recovering is not None:
                self.recovering.cancel()
                self.recovering = None
            readers, self.readers, self.subscribed = list(self.readers.values()), {}, {}
            for reader in readers:
                await reader.close()
            if self.cluster is not None:
                await self.cluster.aclose()
                self.cluster = None

    # --- internals ---------------------------------------------------------------
    def _group_channel(self, group):
        return f"{self.prefix}__group__{group}"

    async def _client(self):
        if self.cluster is None:
            self.cluster = aredis.RedisCluster(
                startup_nodes=[ClusterNode(host, port) for host, port in self.startup_nodes],
                require_full_coverage=False, socket_timeout=COMMAND_TIMEOUT,
                socket_connect_timeout=COMMAND_TIMEOUT, **self.options)
            await self.cluster.initialize()
        return self.cluster

    async def _publish(self, channel, message):
        client = await self._client()
        await client.spublish(channel, self.channel_layer.serialize(message))

    async def _subscribe(self, channel):
        async with self.lock:
            if channel in self.subscribed:
                return
            await self._subscribe_locked(channel)

    async def _subscribe_locked(self, channel):
        client = await self._client()
        node = client.get_node_from_key(channel)
        reader = self.readers.get(node.name)
        if reader is None:
            reader = self.readers[node.name] = _NodeReader(self, node, self.options)
        try:
            await reader.pubsub.ssubscribe(channel)
        except Exception as exc:  # the node is unreachable: its readers' channels move
            self._reader_failed(reader, exc)
            raise
        self.subscribed[channel] = reader
        reader.start()

    async def _unsubscribe(self, channel):
        async with self.lock:
            reader = self.subscribed.pop(channel, None)
            if reader is not None and not reader.failed:
                await reader.pubsub.sunsubscribe(channel)

    def _deliver(self, name, data):
        if isinstance(name, bytes):
            name = name.decode()
        queue = self.channels.get(name)
        if queue is not None:
            queue.put_nowait(data)
            return
        for channel in self.groups.get(name, ()):
            queue = self.channels.get(channel)
            if queue is not None:
                queue.put_nowait(data)

    def _reader_failed(self, reader, error):
        """Called by a reader whose connection broke or whose node gave up its slots."""
        if reader.failed:
            return
        reader.failed = True
        logger.warning("cluster node %s lost (%s): resubscribing its channels", reader.name, error)
        if self.readers.get(reader.name) is reader:
            del self.readers[reader.name]
        if self.recovering is None or self.recovering.done():
            self.recovering = asyncio.ensure_future(self._recover())

    async def _recover(self):
        """Subscribes every channel of failed readers on its current owner, refreshing
        the slot map first; retried until all are placed."""
        while True:
            async with self.lock:
                orphans = [ch for ch, reader in self.subscribed.items() if reader.failed]
                dead = {reader for reader in self.subscribed.values() if reader.failed}
                for reader in dead:
                    await reader.close()
                try:
                    if orphans:
                        client = await self._client()
                        await client.nodes_manager.initialize()
                    for channel in orphans:
                        await self._subscribe_locked(channel)
                    return
                except Exception as exc:  # RedisError, or no node owns the slot yet
                    logger.info("resubscribing after a node failure: %s", exc)
            await asyncio.sleep(RESUBSCRIBE_INTERVAL)


class _NodeReader:
    """One subscriber connection to one cluster node and the task that reads it."""

    def __init__(self, layer, node, options):
        self.layer = layer
        self.name = node.name
        # No retry inside redis-py: a broken connection is reported at once and its
        # channels placed anew (the node may no longer own them).
        client = aredis.Redis(host=node.host, port=node.port, socket_timeout=None,
                              socket_connect_timeout=COMMAND_TIMEOUT,
                              retry=Retry(NoBackoff(), 0), **options)
        self.client = client
        self.pubsub = client.pubsub()
        self.task = None
        self.failed = False

    def start(self):
        if self.task is None:
            self.task = asyncio.ensure_future(self._read())

    async def _read(self):
        while not self.failed:
            try:
                message = await self.pubsub.get_message(timeout=READ_TIMEOUT)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost, or MOVED for a stale slot map
                self.layer._reader_failed(self, exc)
                return
            if message is None:
                continue
            kind = message["type"]
            if kind == "smessage":
                self.layer._deliver(message["channel"], message["data"])
            elif kind == "sunsubscribe" and self.layer.subscribed.get(
                    _text(message["channel"])) is self:
                # Not asked for: the node gave the slot up (failover, resharding).
                self.layer._reader_failed(self, "slot moved")
                return

    async def close(self):
        self.failed = True
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        try:
            await self.pubsub.aclose()
            await self.client.aclose()
        except Exception:  # already broken: nothing to close cleanly
            pass


def _text(name):
    return name.decode() if isinstance(name, bytes) else name
