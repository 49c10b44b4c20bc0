"""Reference broadcast server: the least a Python pub/sub websocket server can do.

Protocol (text frames, JSON), single endpoint ``/``:
    {"sub": "<room>"}                 join a room (a connection may join several)
    {"pub": "<room>", "data": ...}    send {"room": ..., "data": ...} to every member
                                      of the room (the publisher too, if a member)

Usage:  python bench/reference/server.py PORT [HOST]
"""
import asyncio
import json
import signal
import sys
from collections import defaultdict

from websockets.asyncio.server import broadcast, serve

# room name -> set of member connections
ROOMS: dict[str, set] = defaultdict(set)


async def handler(ws):
    joined = []
    try:
        async for raw in ws:
            try:
                msg = json.loads(raw)
            except ValueError:
                continue  # ignore frames that are not JSON
            if "sub" in msg:
                room = str(msg["sub"])
                ROOMS[room].add(ws)
                joined.append(room)
            elif "pub" in msg:
                room = str(msg["pub"])
                frame = json.dumps({"room": room, "data": msg.get("data")})
                # broadcast() writes to every open member synchronously, with no
                # backpressure: a slow member's frames pile up in its write buffer.
                broadcast(ROOMS.get(room, ()), frame)
    finally:
        for room in joined:
            members = ROOMS.get(room)
            if members is not None:
                members.discard(ws)
                if not members:
                    del ROOMS[room]


async def main(port: int, host: str) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    # No compression (the load generator does not negotiate it for any target).
    async with serve(handler, host, port, compression=None, max_size=2**20):
        print(f"reference server on ws://{host}:{port}/", flush=True)
        await stop


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    asyncio.run(main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"))
