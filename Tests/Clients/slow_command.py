#!/usr/bin/env python3
"""A client that trickles an IMAP literal: 20 octets every 0.4 s, never silent long enough for the idle
timeout. The server (run with --limits-idle-timeout-seconds 1 --limits-min-data-rate 1000) must say BYE
once the command is behind the pace, within a few seconds.

usage: slow_command.py IMAP_PORT
Prints "ok <check>" per check and "all checks passed" at the end; exits 1 at the first failure.
"""
import socket
import sys
import time

from smtp_raw import HOST, check

sock = socket.create_connection((HOST, int(sys.argv[1])), timeout=15)
reader = sock.makefile("rb")
reader.readline()
sock.sendall(b"a ID (\"name\" {8000}\r\n")
check("the literal is accepted (+)", reader.readline().startswith(b"+"))
started = time.monotonic()
answer = b""
sent = 0
sock.settimeout(0.4)
while time.monotonic() - started < 20 and sent < 8000:
    try:
        sock.sendall(b"x" * 20)
        sent += 20
    except OSError:
        break
    try:
        # recv, not the file's readline: a timed-out read leaves a socket file unusable.
        answer = sock.recv(200)
        break
    except (socket.timeout, TimeoutError):
        continue
    except OSError:
        break
waited = time.monotonic() - started
check("a trickled literal is cut off: * BYE", answer.startswith(b"* BYE"), f"{answer!r} after {waited:.1f} s, {sent} octets")
check("... within a few seconds (grace 1 s)", waited < 8, f"{waited:.1f} s")
print("all checks passed")
