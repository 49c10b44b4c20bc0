"""Timeouts, limits and capacities of the realtime protocol, each with why its value.

Imported into project.settings.  Each can be overridden by an environment variable of
the same name (tests shorten the timers this way for the server processes they start).
docs/protocol.md lists the same values for clients.
"""


from project.env import get_float, get_int

# Largest text frame accepted (bytes).  A whiteboard stroke of 5,000 points with integer
# coordinates is ~55 KB (the browser client rounds points), a chat message 4,000 chars;
# anything larger is a bug or abuse: close 1009.
REALTIME_MAX_FRAME_BYTES = get_int("REALTIME_MAX_FRAME_BYTES", 64 * 1024)

# Token bucket per connection: a whiteboard client sends stroke points and cursors at
# 20 Hz each plus chat and pings, so 50 frames/s sustained with a burst of 100.
REALTIME_RATE_PER_SECOND = get_float("REALTIME_RATE_PER_SECOND", 50.0)
REALTIME_RATE_BURST = get_int("REALTIME_RATE_BURST", 100)
# A client still flooding this long after its first rate_limited error is closed (4429):
# a well-behaved client backs off within a second, a runaway loop never does.
REALTIME_FLOOD_CLOSE_AFTER = get_float("REALTIME_FLOOD_CLOSE_AFTER", 5.0)
# ...and so is one that runs up this many rate_limited answers in one flood, however
# fast: a client honouring retry_after gets a handful; a burst of 1,000 frames is a loop
# ignoring them, and each answer costs an error frame.
REALTIME_FLOOD_CLOSE_FRAMES = get_int("REALTIME_FLOOD_CLOSE_FRAMES", 100)
# Anonymous sockets only read (subscribe, ping, presence): 10 frames/s with a burst of 20
# covers a page subscribing to its topics at once.
REALTIME_ANONYMOUS_RATE_PER_SECOND = get_float("REALTIME_ANONYMOUS_RATE_PER_SECOND", 10.0)
REALTIME_ANONYMOUS_RATE_BURST = get_int("REALTIME_ANONYMOUS_RATE_BURST", 20)

# Topics per connection: a UI page uses a handful; 200 leaves room for dashboards while
# bounding the per-connection memory and subscribe work.
REALTIME_MAX_SUBSCRIPTIONS = get_int("REALTIME_MAX_SUBSCRIPTIONS", 200)

# Clients ping every 25 s (under common 30-60 s proxy idle timeouts); a connection
# silent for 70 s (two missed pings and slack) is dead or half-open: close 4408.
REALTIME_CLIENT_PING_INTERVAL = get_float("REALTIME_CLIENT_PING_INTERVAL", 25.0)
REALTIME_IDLE_TIMEOUT = get_float("REALTIME_IDLE_TIMEOUT", 70.0)

# Server heartbeat: how often a process refreshes the Redis leases of its connections'
# presence entries.  An entry lives 2 heartbeats, so a kill -9'd process's users vanish
# from presence within 2 x this, with no cleanup from the dead process.
REALTIME_HEARTBEAT_INTERVAL = get_float("REALTIME_HEARTBEAT_INTERVAL", 15.0)
REALTIME_PRESENCE_TTL = get_float("REALTIME_PRESENCE_TTL", 2 * REALTIME_HEARTBEAT_INTERVAL)

# Assume any broadcast can be lost (Redis restart, network blip): every process compares
# its topics' last delivered seq with the outbox this often and fills any gap.
REALTIME_OUTBOX_POLL_INTERVAL = get_float("REALTIME_OUTBOX_POLL_INTERVAL", 2.0)
# A live event that arrives ahead of a missing one (two processes committing close
# together) waits this long for the missing one before it is read from the outbox.
REALTIME_GAP_WAIT = get_float("REALTIME_GAP_WAIT", 0.05)

# Recovery window per topic: a client resuming with `since` gets what it missed if it is
# among the last N events and younger than the age; otherwise it refetches over REST.
# 10,000 events covers hours of a busy room; 24 h covers a laptop closed overnight.
REALTIME_HISTORY_SIZE = get_int("REALTIME_HISTORY_SIZE", 10_000)
REALTIME_HISTORY_SECONDS = get_int("REALTIME_HISTORY_SECONDS", 24 * 3600)
# Most events replayed in one subscribe reply before telling the client to refetch
# (recovered: false) instead: bounds the work of one request.
REALTIME_MAX_REPLAY = get_int("REALTIME_MAX_REPLAY", 10_000)

# Connect tickets: single use, short-lived, so one leaked in a log or URL is worthless.
REALTIME_TICKET_TTL = get_int("REALTIME_TICKET_TTL", 30)

# How long a socket's identity lasts without `auth.refresh {ticket}` before close 4401.
# A socket's rights follow its user's changes within a second (realtime.session_auth), but
# should an announcement be lost (a Redis restart) the old identity must still end: an
# hour bounds that, and costs a client one ticket request an hour (the browser client
# refreshes ahead of it on its own; a reconnect is never needed).
REALTIME_AUTH_MAX_AGE = get_int("REALTIME_AUTH_MAX_AGE", 3600)

# Bytes waiting to be written to one client (frames queued in the process and the one
# the server has not yet taken).  Bytes, not frames: one frame may be 100 bytes or 100 KB,
# and memory is what must be bounded.  1 MiB is a few seconds of the busiest topic for a
# client on a slow link; a client over it that does not catch up within the grace below is
# not reading (or its network cannot keep up): it is closed 4503, so its buffer stays
# bounded and nobody else slows down.  The server's own transport buffer holds at most its
# high-water mark on top (64 KiB; under daphne too, project/daphne_compat.py).
REALTIME_SEND_QUEUE_BYTES = get_int("REALTIME_SEND_QUEUE_BYTES", 1024 * 1024)

# ...but only once the queue has stayed over that bound this long (or a resume has waited
# this long for its page to be written with no frame written meanwhile): a burst
# (several 500-event layer messages handled in one loop turn) can fill a reading client's
# queue for a moment, and its writer drains it within milliseconds.
# A client that does not read stays over and is closed 4503.
REALTIME_SEND_QUEUE_GRACE_SECONDS = get_float("REALTIME_SEND_QUEUE_GRACE_SECONDS", 0.5)

# Whatever the grace, a queue this many times the bound is closed at once (memory bound:
# 4 MiB per socket at worst, for at most the grace).
REALTIME_SEND_QUEUE_HARD_FACTOR = get_int("REALTIME_SEND_QUEUE_HARD_FACTOR", 4)

# A resume (subscribe with `since`) is replayed in pages of about this many bytes of
# events, the next page read from the outbox only once the previous one has been written
# to the socket (the queue back under the low-water mark below).  One subscribe frame
# thus holds at most a page (plus one event: a page has at least one) in memory, instead
# of up to REALTIME_MAX_REPLAY events of up to 256 KB each.  256 KiB: a few database
# round trips per MB replayed, and small enough to sit in memory for every resuming socket.
REALTIME_RESUME_PAGE_BYTES = get_int("REALTIME_RESUME_PAGE_BYTES", 256 * 1024)
# The next page is read when the queue holds less than this: a quarter page keeps the
# socket busy while the next page is read, without holding two pages.
REALTIME_RESUME_LOW_WATER_BYTES = REALTIME_RESUME_PAGE_BYTES // 4
# Live events of a topic arriving while its resume is replayed wait (they follow the
# replay and the reply).  Past this many bytes the subscribe gives up the replay: the
# reply says `recovered: false` with the current seq (the client refetches over REST)
# and live events follow from there, so a busy topic cannot grow a slow resumer's buffer.
REALTIME_SUBSCRIBE_BUFFER_BYTES = get_int("REALTIME_SUBSCRIBE_BUFFER_BYTES", 1024 * 1024)

# Open sockets per client address (realtime.client_address), counted across every server
# process in Redis (leases renewed by the heartbeat, so a killed process's count heals
# within 2 heartbeats).  50: a household or a small office behind one NAT, each with a
# few tabs; beyond it the handshake is refused (close 4429, no Connection row written).
REALTIME_MAX_CONNECTIONS_PER_IP = get_int("REALTIME_MAX_CONNECTIONS_PER_IP",
                                          50)
# Anonymous sockets per address: anonymous readers cost the same and prove nothing, and
# a page opens one socket; 20 leaves room for a few people behind one NAT.
REALTIME_MAX_ANONYMOUS_CONNECTIONS_PER_IP = get_int("REALTIME_MAX_ANONYMOUS_CONNECTIONS_PER_IP",
                                                    20)
# Handshakes per address per window (refused: close 4429).  A connect costs a Redis round
# trip and a Connection row; clients reconnect with backoff, so a browser makes a few a
# minute even through a deploy.  60 per 10 s lets 50 tabs behind one NAT reconnect at
# once after a restart, and stops a loop that opens sockets as fast as it can.
REALTIME_HANDSHAKES_PER_IP = get_int("REALTIME_HANDSHAKES_PER_IP", 60)
REALTIME_HANDSHAKE_WINDOW_SECONDS = get_int("REALTIME_HANDSHAKE_WINDOW_SECONDS", 10)

# Connection rows whose process has not refreshed them for this long are closed by the
# sweep task (a killed server cannot close its own).
REALTIME_CONNECTION_STALE_AFTER = get_float("REALTIME_CONNECTION_STALE_AFTER", 120.0)

# How long a connection trusts a topic authorization (granted or refused) before asking
# the app again: ephemeral actions (cursors at 20 Hz) must not cost a database query
# each, yet a removed member loses write access within this time (and at once when the
# app kicks them, see realtime.kick).
REALTIME_AUTHZ_CACHE_SECONDS = get_float("REALTIME_AUTHZ_CACHE_SECONDS", 30.0)

# How long a process trusts "this topic is public" (a topic kind's public_read hook) for
# every subscriber: a reconnect storm of thousands onto one public room costs one query.
# Making the topic private drops the answer at once on every process (reauthorize); this
# bounds only the case where that broadcast is lost.
REALTIME_PUBLIC_TOPIC_CACHE_SECONDS = get_float("REALTIME_PUBLIC_TOPIC_CACHE_SECONDS", 10.0)

# Python's cyclic-GC thresholds in a server process (gc.set_threshold at start-up, beside
# gc.freeze()).  The default (700, 10, 10) collects every ~700 net new objects: in a
# connect storm ~15 % of the CPU went to the collector, most of it full collections
# re-walking every live socket's objects (~40 ms each, 2 per 1,000 connects).  A young
# collection walks every object allocated since the last one, so its pause grows with
# this threshold while the collector's total work per allocation does not: at 50,000 the
# pauses were 25-45 ms, and one landing in a fan-out to 1,000 sockets held every delivery
# of that message back by as much (BENCH_PER_MESSAGE, bench/README.md).  10,000 keeps
# young pauses near 5 ms and older collections ~5x rarer than the default's.
REALTIME_GC_THRESHOLD_YOUNG = get_int("REALTIME_GC_THRESHOLD_YOUNG", 10_000)
REALTIME_GC_THRESHOLDS = (REALTIME_GC_THRESHOLD_YOUNG, 20, 10)

# Longest a session's user snapshot (realtime.sessions) lives in Redis; it ends sooner with
# the session, and at once when the session or the user changes.  An hour: a browser's
# reconnects (a deploy, a network blip) read Redis, not the database; a snapshot is
# re-made at most once an hour per session.
REALTIME_SESSION_SNAPSHOT_SECONDS = get_int("REALTIME_SESSION_SNAPSHOT_SECONDS", 3600)
# How long a deleted session's tombstone keeps a resolution already in flight from writing
# its snapshot back: far beyond one resolution (two queries, a 5 s pool timeout).
REALTIME_SESSION_TOMBSTONE_SECONDS = get_int("REALTIME_SESSION_TOMBSTONE_SECONDS", 60)

# How long a process gathers a topic's presence changes before announcing them as one
# presence.join and one presence.leave (realtime/announce.py): a room of 1,000 reconnecting
# at once would otherwise send each subscriber 1,000 joins (N² frames; the storm ran at
# ~130 connects/s).  A tenth of a second is not noticed in a member list.
REALTIME_PRESENCE_BATCH_SECONDS = get_float("REALTIME_PRESENCE_BATCH_SECONDS", 0.1)
# Most present users a subscribe reply lists, and the largest page of the `presence`
# action.  Above it a reply carries only the count and changes come as `presence.diff`
# (count plus who joined and left): a full list in every reply makes a room's join cost
# grow with its size (N joins x N members), and nobody reads a list of thousands at once.
# 100 is what a member list shows on a screen, and Pusher's cap on a presence channel.
REALTIME_PRESENCE_LIST_MAX = get_int("REALTIME_PRESENCE_LIST_MAX", 100)

# --- the write path and overload (issue 18; chat/writes.py, realtime/store.py) ---------------
# Threads for the hub's outbox reads (gap fills, the outbox poll, resume pages).  A pool of
# their own so deliveries never queue behind writes; each read is a short index scan, so
# three keep up with a process's delivery path and add only three database connections.
REALTIME_READ_THREADS = get_int("REALTIME_READ_THREADS", 3)
# Threads for sync action handlers (chat.edit, chat.history, board actions...).  Bounded
# apart from the reads above; with the default event-loop pool (6 on 2 cores), the reads,
# and the write batcher below, a process holds at most ~17 database connections, under
# DATABASE_POOL_MAX's 20.
REALTIME_ACTION_THREADS = get_int("REALTIME_ACTION_THREADS", 6)
# Transactions the chat.send batcher runs at once.  Two: one commits while the next batch
# gathers what arrived meanwhile (group commit); more only contend for the same counter
# rows (and SQLite's one write lock).
REALTIME_WRITE_THREADS = get_int("REALTIME_WRITE_THREADS", 2)
# Most sends written in one transaction: at 1,000 sends/s and ~20 ms a commit a batch is
# ~20; 200 keeps one transaction (and the time its row locks are held) short.
REALTIME_WRITE_BATCH_MAX = get_int("REALTIME_WRITE_BATCH_MAX", 200)
# Writes waiting in a process (queued socket sends plus REST/admin writes in progress)
# before new ones are refused `overloaded`: at the measured ~1,000+ stored messages/s a
# full queue drains in well under a second, so an accepted write keeps a bounded latency.
REALTIME_MAX_PENDING_WRITES = get_int("REALTIME_MAX_PENDING_WRITES", 1000)
# ...or once the oldest waiting write has waited this long: the database is slower than
# usual (a checkpoint, a lock), and queueing more would only make every answer late.
REALTIME_MAX_WRITE_WAIT_SECONDS = get_float("REALTIME_MAX_WRITE_WAIT_SECONDS", 2.0)
# Seconds an `overloaded` answer tells the client to wait before retrying (retry_after,
# Retry-After): long enough for the queue above to drain, short enough that a person's
# message still goes out within a moment.
REALTIME_OVERLOAD_RETRY_AFTER = get_float("REALTIME_OVERLOAD_RETRY_AFTER", 1.0)

# How long a thread may hold the GIL while another waits for it (sys.setswitchinterval in a
# server process, project/asgi.py).  Python's 5 ms default made the event loop wait up to
# 5 ms after each of its socket syscalls whenever a database thread (the chat.send
# batcher, action handlers) ran Python code: a profile of the chat-rooms bench showed the
# loop's sends and epoll calls waiting for the GIL, the write path idle and the CPU half
# used (docs/performance.md).  0.5 ms bounds that wait at a tenth; switching more often
# costs the worker threads little, as they mostly wait on the database.
REALTIME_GIL_SWITCH_INTERVAL = get_float("REALTIME_GIL_SWITCH_INTERVAL", 0.0005)

# Requests of a concurrent action (chat.send) one socket may have in flight at once
# (realtime/inflight.py); past it the socket's next frame is read once one is done.  A
# browser flushing the messages it queued while offline, or a bot posting in bursts, gets
# its sends into the same group commit instead of one commit each; 32 is far above what
# the per-socket rate limit lets through in a commit's time, yet 32 of the process's
# REALTIME_MAX_PENDING_WRITES means one socket alone cannot fill that bound.
REALTIME_MAX_INFLIGHT_PER_CONNECTION = get_int("REALTIME_MAX_INFLIGHT_PER_CONNECTION", 32)
