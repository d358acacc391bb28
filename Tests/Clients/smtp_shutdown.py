#!/usr/bin/env python3
"""SIGTERM while one session is in the middle of DATA and another is idle. The idle one gets
421 4.3.2; the one in DATA may finish its message within the grace period and gets its 250 (so the
message must be in the queue after a restart), then 421 and close.

usage: smtp_shutdown.py MX_PORT SERVER_PID
"""
import os
import signal
import socket
import sys
import time

from smtp_raw import HOST, check

MX, PID = int(sys.argv[1]), int(sys.argv[2])


def connect():
    sock = socket.create_connection((HOST, MX), timeout=15)
    return sock, sock.makefile("rb")


def reply(reader):
    lines = []
    while True:
        line = reader.readline()
        if not line:
            return "closed"
        lines.append(line.decode(errors="replace").rstrip("\r\n"))
        if len(line) < 4 or line[3:4] != b"-":
            return "\n".join(lines)


busy, busy_reader = connect()
reply(busy_reader)
busy.sendall(b"EHLO client.test\r\nMAIL FROM:<late@remote.test>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n")
answers = [reply(busy_reader) for _ in range(4)]
check("in DATA", answers[3].startswith("354"), answers)
busy.sendall(b"Subject: in flight at SIGTERM\r\n\r\nfirst half\r\n")
idle, idle_reader = connect()
reply(idle_reader)

os.kill(PID, signal.SIGTERM)
answer = reply(idle_reader)
check("idle session: 421 4.3.2 at shutdown", answer.startswith("421 4.3.2"), answer)
time.sleep(0.3)
busy.sendall(b"second half\r\n.\r\n")
answer = reply(busy_reader)
check("the message in flight finishes within the grace period: 250", answer.startswith("250 2.0.0"), answer)
answer = reply(busy_reader)
check("then 421 4.3.2 (or close)", answer.startswith("421 4.3.2") or answer == "closed", answer)
print("all checks passed")
