#!/usr/bin/env python3
"""Clients that trickle a command: 20 octets every 0.4 s, never silent long enough for the idle timeout.
The server (run with --limits-idle-timeout-seconds 1 --limits-min-data-rate 1000) must tell each one and
close the connection once its command is behind the pace, within a few seconds: an IMAP literal, an SMTP
command line and a POP3 command line.

usage: slow_command.py IMAP_PORT SMTP_PORT POP3_PORT
Prints "ok <check>" per check and "all checks passed" at the end; exits 1 at the first failure.
"""
import socket
import sys
import time

from smtp_raw import HOST, check


def trickle(port, opening, refusal, name):
    """Connects, reads the greeting, sends `opening` and then 20 octets every 0.4 s until an answer."""
    sock = socket.create_connection((HOST, port), timeout=15)
    reader = sock.makefile("rb")
    reader.readline()
    if opening is not None:
        sock.sendall(opening)
        check(f"{name}: the literal is accepted (+)", reader.readline().startswith(b"+"))
    else:
        sock.sendall(b"NOOP ")
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
    check(f"{name} trickled is cut off: {refusal.decode()}", answer.startswith(refusal),
          f"{answer!r} after {waited:.1f} s, {sent} octets")
    check(f"... within a few seconds (grace 1 s)", waited < 8, f"{waited:.1f} s")
    sock.settimeout(5)
    try:
        rest = sock.recv(200)
    except OSError:
        rest = b""
    check("... and the connection is closed", rest == b"", rest)


trickle(int(sys.argv[1]), b"a ID (\"name\" {8000}\r\n", b"* BYE", "an IMAP literal")
trickle(int(sys.argv[2]), None, b"421 4.4.2", "an SMTP command line")
trickle(int(sys.argv[3]), None, b"-ERR", "a POP3 command line")
print("all checks passed")
