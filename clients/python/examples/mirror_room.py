"""Mirrors a room's chat messages to stdout, one JSON line each, for as long as it runs.

    SWITCHBOARD_TOKEN=... python clients/python/examples/mirror_room.py --room lobby

It survives a server restart without losing or repeating a message: the client reconnects
and resubscribes with `since` = the last seq it received, and the server replays what was
missed.  `--since N` starts from an earlier seq (e.g. the last one a previous run printed,
its "seq" field; 0 = the room's whole recovery window).  If the server could not replay a
gap (`recovered: false`), a note goes to stderr and the mirror carries on: a real mirror
would refetch the room's history over REST there (GET /api/rooms/<slug>/messages/).
"""

import argparse
import asyncio
import json
import os
import sys

from switchboard_client import Client, Gap


async def mirror(url, token, room, since=None, count=None):
    """Prints each `chat.message` of room:<room>; returns after `count` messages (or never)."""
    printed = 0
    async with Client(url, token=token) as client:
        async with client.subscribe(f"room:{room}", since=since) as sub:
            async for item in sub:
                if isinstance(item, Gap):
                    print(f"# gap in room:{room} after seq {item.since} (now {item.seq}): "
                          "refetch the history over REST", file=sys.stderr, flush=True)
                    continue
                if item.event != "chat.message":
                    continue
                message = item.data["message"]
                print(json.dumps({"seq": item.seq, "id": message["id"],
                                  "author": message["author"]["username"], "body": message["body"],
                                  "created_at": message["created_at"]}), flush=True)
                printed += 1
                if count is not None and printed >= count:
                    return


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("SWITCHBOARD_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--token", default=os.environ.get("SWITCHBOARD_TOKEN"),
                        help="REST API token (default: $SWITCHBOARD_TOKEN)")
    parser.add_argument("--room", required=True, help="the room's slug")
    parser.add_argument("--since", type=int, default=None, help="resume after this seq")
    parser.add_argument("--count", type=int, default=None, help="stop after this many messages")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("a token is needed: --token or $SWITCHBOARD_TOKEN")
    try:
        asyncio.run(mirror(args.url, args.token, args.room, args.since, args.count))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
