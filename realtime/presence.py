"""Presence in Redis: who is on a topic, one entry per user however many tabs.

Per topic two sorted sets, scored by lease expiry (epoch seconds):
  sb:pr:{<topic>}            member user id   -> the latest expiry of any of their connections
  sb:prc:{<topic>}:<user>    member connection id -> that connection's expiry
and a hash sb:pu:{<topic>} user id -> JSON {id, username, display_name}.
The braces are a Redis Cluster hash tag: a topic's keys share one slot, so the scripts
below (which touch all three) run on one node; different topics spread over the shards.
Each server process renews its connections' leases every heartbeat; an entry whose
process died simply expires (REALTIME_PRESENCE_TTL), and whichever process sweeps the
topic first announces the leave.  Scripts keep join/leave atomic across processes.
"""

import time

import orjson
from django.conf import settings

from realtime.redis import async_client, batched, run_script, script_sha, sync_client

P = "sb:pr:"
PC = "sb:prc:"
PU = "sb:pu:"

# KEYS: pr, prc, pu.  ARGV: user, conn, expiry, now, info, key ttl, list max.  Returns 1
# when the user was not present before (first tab): the caller announces presence.join;
# with list max >= 0, {that flag, the present count, and when the count is at most list
# max the present users' infos...} (a subscribe: one round trip; a crowd costs a count).
JOIN = """
local prev = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[1], 'GT', ARGV[3], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[5])
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[6]) end
local first = 0
if (not prev) or tonumber(prev) <= tonumber(ARGV[4]) then first = 1 end
if tonumber(ARGV[7]) < 0 then return first end
local count = redis.call('ZCOUNT', KEYS[1], ARGV[4], '+inf')
local out = {first, count}
if count > tonumber(ARGV[7]) then return out end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[4], '+inf')
for start = 1, #ids, 1000 do  -- unpack() of thousands would overflow Lua's C stack
  local infos = redis.call('HMGET', KEYS[3], unpack(ids, start, math.min(start + 999, #ids)))
  for i = 1, #infos do if infos[i] then out[#out + 1] = infos[i] end end
end
return out
"""

# KEYS: pr, prc, pu.  ARGV: user, conn, now.  Returns 1 when that was the user's last
# live connection (the caller announces presence.leave).
LEAVE = """
if redis.call('ZREM', KEYS[2], ARGV[2]) == 0 then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
local rest = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if #rest == 0 then
  local removed = redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  return removed
end
redis.call('ZADD', KEYS[1], rest[2], ARGV[1])
return 0
"""

# KEYS: pr, pu.  ARGV: now.  Removes users whose every lease expired; returns their infos
# (each is returned to one caller only, so one leave is announced).
SWEEP = """
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local infos = {}
for _, user in ipairs(gone) do
  redis.call('ZREM', KEYS[1], user)
  infos[#infos + 1] = redis.call('HGET', KEYS[2], user) or ('{"id":' .. user .. '}')
  redis.call('HDEL', KEYS[2], user)
end
return infos
"""


# KEYS: pr, pu.  ARGV: now, after (a user id), limit.  {present count, 1 when more users
# follow the page, the infos of the first `limit` present users with an id above `after`,
# by id}.  A cursor by user id, not an offset: leases are renewed (rescored) every
# heartbeat, so positions move, while ids do not -- a user present throughout a paging
# is returned exactly once.
PAGE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf')
local after, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local picked, num = {}, {}
for _, id in ipairs(ids) do
  local n = tonumber(id)
  if n and n > after then picked[#picked + 1] = id; num[id] = n end
end
table.sort(picked, function(a, b) return num[a] < num[b] end)
local out = {#ids, 0}
local last = math.min(#picked, limit)
if #picked > limit then out[2] = 1 end
for start = 1, last, 1000 do  -- unpack() of thousands would overflow Lua's C stack
  local infos = redis.call('HMGET', KEYS[2], unpack(picked, start, math.min(start + 999, last)))
  for i = 1, #infos do if infos[i] then out[#out + 1] = infos[i] end end
end
return out
"""

JOIN_SHA, LEAVE_SHA, PAGE_SHA = script_sha(JOIN), script_sha(LEAVE), script_sha(PAGE)


def members_key(topic):
    """The sorted set of a topic's present users (see the module docstring)."""
    return f"{P}{{{topic}}}"


def infos_key(topic):
    """The hash of a topic's present users' infos."""
    return f"{PU}{{{topic}}}"


def _keys(topic, user_id):
    return [members_key(topic), f"{PC}{{{topic}}}:{user_id}", infos_key(topic)]


def _ttl():
    return settings.REALTIME_PRESENCE_TTL


async def join(topic, user_info, connection_id):
    """Adds a connection; returns True when it is the user's first (announce a join)."""
    return bool(await _join(topic, user_info, connection_id, -1))


async def join_and_list(topic, user_info, connection_id):
    """join() and the present users in one round trip: (first, count, [user infos present,
    by id] or None when more than REALTIME_PRESENCE_LIST_MAX are present)."""
    list_max = settings.REALTIME_PRESENCE_LIST_MAX
    result = await _join(topic, user_info, connection_id, list_max)
    count = int(result[1])
    return bool(result[0]), count, (None if count > list_max else _users(result[2:]))


async def _join(topic, user_info, connection_id, list_max):
    now = time.time()
    return await run_script(JOIN, JOIN_SHA, _keys(topic, user_info["id"]), (
        user_info["id"], connection_id, now + _ttl(), now, orjson.dumps(user_info),
        int(_ttl() * 4) + 60, list_max))


async def leave(topic, user_id, connection_id):
    """Removes a connection; returns True when it was the user's last (announce a leave)."""
    result = await run_script(LEAVE, LEAVE_SHA, _keys(topic, user_id),
                              (user_id, connection_id, time.time()))
    return bool(result)


async def refresh(entries):
    """Renews the leases of [(topic, user_id, connection_id, user_info), ...] in one round
    trip.  The user info is written again too: after a Redis restart (nothing persisted)
    the next beat rebuilds the whole entry, not just leases that members() cannot name."""
    if not entries:
        return
    expiry = time.time() + _ttl()
    async with async_client().pipeline(transaction=False) as pipe:
        for topic, user_id, connection_id, user_info in entries:
            keys = _keys(topic, user_id)
            pipe.zadd(keys[1], {connection_id: expiry})
            pipe.zadd(keys[0], {str(user_id): expiry}, gt=True)
            pipe.hset(keys[2], str(user_id), orjson.dumps(user_info))
            for key in keys:
                pipe.expire(key, int(_ttl() * 4) + 60)
        await pipe.execute()


async def present(topic, user_ids):
    """{user id: whether a live lease of theirs is on topic} (one round trip)."""
    if not user_ids:
        return {}
    scores = await batched().execute("ZMSCORE", members_key(topic), *user_ids)
    now = time.time()
    return {user_id: score is not None and float(score) > now
            for user_id, score in zip(user_ids, scores, strict=True)}


async def present_and_count(topic, user_ids):
    """(present(topic, user_ids), how many users are present) in one round trip: what the
    announcer checks at the end of its window."""
    now = time.time()
    async with async_client().pipeline(transaction=False) as pipe:
        if user_ids:
            pipe.execute_command("ZMSCORE", members_key(topic), *user_ids)
        pipe.zcount(members_key(topic), now, "+inf")
        results = await pipe.execute()
    scores = results[0] if user_ids else []
    return ({user_id: score is not None and float(score) > now
             for user_id, score in zip(user_ids, scores, strict=True)}, int(results[-1]))


async def page(topic, after=0, limit=None):
    """One page of a topic's present users: (count, [infos of the first `limit` users with
    an id above `after`, by id], whether more follow).  `limit` defaults to (and callers
    bound it by) REALTIME_PRESENCE_LIST_MAX."""
    limit = settings.REALTIME_PRESENCE_LIST_MAX if limit is None else limit
    result = await run_script(PAGE, PAGE_SHA, [members_key(topic), infos_key(topic)],
                              (time.time(), after, limit))
    return int(result[0]), _users(result[2:]), bool(result[1])


async def sweep(topic):
    """Drops users whose leases all expired (their process died); returns their infos."""
    gone = await async_client().eval(SWEEP, 2, members_key(topic), infos_key(topic), time.time())
    return [orjson.loads(info) for info in gone]


async def members(topic):
    """The users present on a topic: [{id, username, display_name}, ...] by id."""
    client = async_client()
    ids = await client.zrangebyscore(members_key(topic), time.time(), "+inf")
    if not ids:
        return []
    return _users(await client.hmget(infos_key(topic), ids))


def present_many(topics):
    """{topic: [{id, username, display_name}, ...] by id}, read synchronously (REST views and
    services: `realtime.present_users_many`) in two round trips however many topics."""
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
        for ids, topic in zip(id_lists, topics, strict=True):
            if ids:
                pipe.hmget(infos_key(topic), ids)
        infos = iter(pipe.execute())
    return {topic: _users(next(infos)) if ids else []
            for topic, ids in zip(topics, id_lists, strict=True)}


def _users(infos):
    """Stored user infos (missing ones skipped), decoded and ordered by id."""
    return sorted((orjson.loads(info) for info in infos if info), key=lambda user: user["id"])
