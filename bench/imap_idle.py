#!/usr/bin/env python3
"""Holds many IMAP connections in IDLE on one server, then measures how long one new message takes to
reach all of them. asyncio, standard library only; plaintext LOGIN on loopback.

  imap_idle.py --port P --users a@x,b@x --password PW --connections 10000 [--host 127.0.0.1]
               [--ready-file F] [--hold-secs 5]

Each connection: greeting, LOGIN (users taken in turn), SELECT INBOX, IDLE, wait for "+". Once all idle
it writes the ready file (the caller measures the server's memory then), waits --hold-secs, APPENDs one
message to the first user's INBOX on a separate connection, and times until every connection of that
user has seen "* n EXISTS" (at most 30 s). Then DONE and LOGOUT on all.
Last line: RESULT imap_idle connections=N setup_secs=S fanout_secs=F fanout_seen=K/M errors=E
"""
import argparse
import asyncio
import sys
import time


async def command(reader, writer, tag, text):
    writer.write(f"{tag} {text}\r\n".encode())
    await writer.drain()
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError(f"closed during {text.split()[0]}")
        if line.startswith(tag.encode() + b" "):
            if not line.startswith(tag.encode() + b" OK"):
                raise RuntimeError(f"{text.split()[0]}: {line!r}")
            return


async def open_idle(args, user, limit):
    async with limit:
        reader, writer = await asyncio.open_connection(args.host, args.port, limit=1 << 20)
        await reader.readline()
        await command(reader, writer, "a", f'LOGIN "{user}" "{args.password}"')
        await command(reader, writer, "b", "SELECT INBOX")
        writer.write(b"c IDLE\r\n")
        await writer.drain()
        line = await reader.readline()
        if not line.startswith(b"+"):
            raise RuntimeError(f"IDLE: {line!r}")
        return reader, writer


async def wait_exists(reader, deadline):
    while True:
        line = await asyncio.wait_for(reader.readline(), max(0.01, deadline - time.monotonic()))
        if not line:
            return False
        if line.startswith(b"* ") and line.rstrip().endswith(b" EXISTS"):
            return True


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--users", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--connections", type=int, default=10000)
    p.add_argument("--ready-file")
    p.add_argument("--hold-secs", type=float, default=5)
    args = p.parse_args()
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        sys.exit("loopback only")
    users = args.users.split(",")
    limit = asyncio.Semaphore(100)
    started = time.monotonic()
    results = await asyncio.gather(
        *(open_idle(args, users[i % len(users)], limit) for i in range(args.connections)), return_exceptions=True)
    setup = time.monotonic() - started
    sessions = [(i, r) for i, r in enumerate(results) if not isinstance(r, BaseException)]
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        print(f"first error: {errors[0]!r}", file=sys.stderr)
    print(f"idling {len(sessions)} of {args.connections} after {setup:.1f} s", file=sys.stderr, flush=True)
    if args.ready_file:
        open(args.ready_file, "w").write(str(len(sessions)))
    await asyncio.sleep(args.hold_secs)

    # One new message for the first user: every one of its IDLE connections should hear of it.
    watchers = [r for i, r in sessions if i % len(users) == 0]
    reader, writer = await asyncio.open_connection(args.host, args.port)
    await reader.readline()
    await command(reader, writer, "a", f'LOGIN "{users[0]}" "{args.password}"')
    message = b"Subject: fan-out\r\n\r\nhello\r\n"
    started = time.monotonic()
    writer.write(b"b APPEND INBOX {%d+}\r\n" % len(message) + message + b"\r\n")
    await writer.drain()
    deadline = started + 30
    seen = await asyncio.gather(*(wait_exists(r, deadline) for r, _ in watchers), return_exceptions=True)
    fanout = time.monotonic() - started
    heard = sum(1 for s in seen if s is True)
    writer.write(b"c LOGOUT\r\n")
    for _, w in [r for _, r in sessions]:
        try:
            w.write(b"DONE\r\nz LOGOUT\r\n")
        except Exception:
            pass
    await asyncio.sleep(1)
    for _, w in [r for _, r in sessions]:
        w.close()
    print(f"RESULT imap_idle connections={len(sessions)} setup_secs={setup:.1f} fanout_secs={fanout:.2f} "
          f"fanout_seen={heard}/{len(watchers)} errors={len(errors)}")
    sys.exit(1 if errors or heard != len(watchers) else 0)


if __name__ == "__main__":
    asyncio.run(main())
