#!/usr/bin/env python3
"""Connection limits before any session: new connections per client network and minute, and the TLS
handshake timeout of implicit-TLS ports.

usage: connection_limits.py SMTP_PORT IMAPS_PORT
The suite runs with --limits-max-new-connections-per-minute 5 --limits-tls-handshake-timeout-seconds 1
(its IMAP idle timeout is 30 minutes). Prints "ok <check>" per check and "all checks passed" at the
end; exits 1 at the first failure.
"""
import socket
import ssl
import sys
import time

from smtp_raw import HOST, check

smtp_port, imaps_port = int(sys.argv[1]), int(sys.argv[2])

# 1: a client that connects to IMAPS and never starts its handshake is closed after the handshake
# timeout, not after the half-hour IMAP idle timeout.
silent = socket.create_connection((HOST, imaps_port), timeout=20)
started = time.monotonic()
try:
    closed = silent.recv(1) == b""
except ConnectionResetError:
    closed = True
waited = time.monotonic() - started
check("a silent implicit-TLS client is closed after the handshake timeout", closed and 0.5 <= waited <= 6, f"{waited:.1f} s")
silent.close()


def smtp_greeting():
    sock = socket.create_connection((HOST, smtp_port), timeout=15)
    reader = sock.makefile("rb")
    line = reader.readline()
    try:
        sock.sendall(b"QUIT\r\n")
        reader.readline()
    except OSError:
        pass
    sock.close()
    return line


# 2-5: four more within the minute are served; the sixth is refused with the protocol's reply.
for number in range(2, 6):
    greeting = smtp_greeting()
    check(f"connection {number} of 5 in the minute: 220", greeting.startswith(b"220"), greeting)
greeting = smtp_greeting()
check("the sixth new connection in the minute: 421 before any session", greeting.startswith(b"421"), greeting)

# On the implicit-TLS port the refusal comes before any TLS work: the connection is just closed.
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
try:
    with context.wrap_socket(socket.create_connection((HOST, imaps_port), timeout=15), server_hostname="localhost") as tls:
        check("an implicit-TLS connection over the rate is closed before the handshake", False, tls.version())
except (ssl.SSLError, ConnectionResetError, OSError) as error:
    check("an implicit-TLS connection over the rate is closed before the handshake", True, repr(error))
print("all checks passed")
