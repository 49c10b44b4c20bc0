"""Who is in a room, read synchronously (REST views, services) from the same Redis keys
realtime.presence writes; the socket's `presence` action is the async equivalent."""

import time

import orjson

from realtime.presence import infos_key, members_key
from realtime.redis import sync_client


def present_users_many(topics):
    """{topic: [{id, username, display_name}, ...] by id} in two round trips."""
    topics = list(topics)
    if not topics:
        return {}
    client = sync_client()
    now = time.time()
    with client.pipeline(transaction=False) as pipe:
        for topic in topics:
            pipe.zrangebyscore(members_key(topic), now, "+inf")
        id_lists = pipe.execute()
    with client.pipeline(transaction=False) as pipe:
        for topic, ids in zip(topics, id_lists, strict=True):
            if ids:
                pipe.hmget(infos_key(topic), ids)
        infos = iter(pipe.execute())
    result = {}
    for topic, ids in zip(topics, id_lists, strict=True):
        users = [orjson.loads(info) for info in next(infos) if info] if ids else []
        result[topic] = sorted(users, key=lambda user: user["id"])
    return result


def present_users(topic):
    return present_users_many([topic])[topic]
