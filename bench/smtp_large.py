#!/usr/bin/env python3
"""N concurrent SMTP sessions, each sending one large message by DATA at once, on loopback.

usage: smtp_large.py --port P --sessions N --size BYTES --rcpt ADDRESS [--timeout SECONDS]
Last line: "RESULT smtp_large sessions=N size=S accepted=A seconds=T"
"""
import argparse
import random
import socket
import sys
import threading
import time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--sessions", type=int, default=50)
parser.add_argument("--size", type=int, default=30_000_000)
parser.add_argument("--rcpt", required=True)
parser.add_argument("--timeout", type=float, default=600)
arguments = parser.parse_args()

# One message for all sessions: base64-like lines (no line starts with ".", so nothing to stuff).
rng = random.Random(7)
alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
line_pool = [bytes(rng.choice(alphabet) for _ in range(76)) + b"\r\n" for _ in range(512)]
header = f"From: bench@bench.test\r\nTo: {arguments.rcpt}\r\nSubject: large\r\n\r\n".encode()
lines = [line_pool[index % 512] for index in range(arguments.size // 78 + 1)]
message = header + b"".join(lines) + b".\r\n"
deadline = time.monotonic() + arguments.timeout
results = []


def reply(reader):
    while True:
        line = reader.readline()
        if not line or len(line) < 4 or line[3:4] != b"-":
            return line


def session():
    try:
        sock = socket.create_connection(("127.0.0.1", arguments.port), timeout=max(1, deadline - time.monotonic()))
        reader = sock.makefile("rb")
        reply(reader)
        sock.sendall(b"EHLO bench-client.test\r\n")
        reply(reader)
        for command in (b"MAIL FROM:<bench@bench.test>\r\n", f"RCPT TO:<{arguments.rcpt}>\r\n".encode(), b"DATA\r\n"):
            sock.sendall(command)
            answer = reply(reader)
            if answer[:1] not in (b"2", b"3"):
                results.append(answer)
                return
        view = memoryview(message)
        for offset in range(0, len(view), 256 * 1024):
            sock.sendall(view[offset:offset + 256 * 1024])
        results.append(reply(reader))
        sock.sendall(b"QUIT\r\n")
        sock.close()
    except OSError as error:
        results.append(str(error).encode())


start = time.monotonic()
threads = [threading.Thread(target=session) for _ in range(arguments.sessions)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join(max(1, deadline - time.monotonic()))
elapsed = time.monotonic() - start
accepted = sum(1 for answer in results if answer.startswith(b"250"))
refused = [answer for answer in results if not answer.startswith(b"250")]
if refused:
    print("not accepted:", refused[:3], file=sys.stderr)
print(f"RESULT smtp_large sessions={arguments.sessions} size={len(message)} accepted={accepted} seconds={elapsed:.1f}")
