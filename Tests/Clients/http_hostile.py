#!/usr/bin/env python3
"""Sends malformed HTTP/1.1 requests to a server over raw
sockets, as no well-behaved client would, and prints one line per case:
`<case>|<status line or 'closed'>|<closed-after: yes/no>`.

usage: http_hostile.py PORT [IDLE_SECONDS]
With IDLE_SECONDS, also opens an idle connection and reports whether the server closed it within
IDLE_SECONDS + 5 seconds.
"""
import socket
import sys
import time

PORT = int(sys.argv[1])
CASES = {
    "cl-and-te": b"POST /api/v1/domains HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "two-content-lengths": b"POST /api/v1/domains HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "negative-content-length": b"POST /api/v1/domains HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n",
    "chunked-not-final": b"POST /api/v1/domains HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    "bare-cr-in-header": b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-A: a\rb\r\n\r\n",
    "obs-fold": b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-A: a\r\n b\r\n\r\n",
    "1mb-header": b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-A: " + b"a" * 1_000_000 + b"\r\n\r\n",
    "100kb-url": b"GET /healthz?" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n",
}


def exchange(data):
    connection = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    try:
        connection.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    received = b""
    closed = False
    try:
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                closed = True
                break
            received += chunk
    except ConnectionResetError:
        closed = True
    except socket.timeout:
        pass
    status = received.split(b"\r\n", 1)[0].decode(errors="replace") if received else "closed"
    return status, closed


for name, data in CASES.items():
    status, closed = exchange(data)
    print(f"{name}|{status}|closed-after: {'yes' if closed else 'no'}")

if len(sys.argv) > 2:
    idle = float(sys.argv[2])
    connection = socket.create_connection(("127.0.0.1", PORT), timeout=idle + 5)
    started = time.monotonic()
    try:
        closed = connection.recv(1) == b""
    except (socket.timeout, ConnectionResetError) as error:
        closed = isinstance(error, ConnectionResetError)
    print(f"idle-connection|closed after {time.monotonic() - started:.1f}s|closed-after: {'yes' if closed else 'no'}")
