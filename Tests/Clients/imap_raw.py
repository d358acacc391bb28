"""Shared by the IMAP client scripts: a raw IMAPS connection, logged in, for what imaplib will not send
(IDLE, commands left in flight)."""
import imaplib
import re
import socket


def imap_session(port, context, user, password, timeout=15):
    """Python's imaplib over IMAPS to 127.0.0.1:port, logged in."""
    imap = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=context, timeout=timeout)
    imap.login(user, password)
    return imap


def logged_in(port, context, user, password):
    """A TLS connection to 127.0.0.1:port after a successful LOGIN: (socket, reader)."""
    sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30), server_hostname="localhost")
    reader = sock.makefile("rb")
    reader.readline()
    sock.sendall(f'l LOGIN {user} "{password}"\r\n'.encode())
    while not reader.readline().startswith(b"l "):
        pass
    return sock, reader


def fetch(sock, reader, tag, command):
    """Everything the server answers to `tag command` before its tagged line, and that line."""
    sock.sendall(f"{tag} {command}\r\n".encode())
    untagged = b""
    while True:
        line = reader.readline()
        if not line:
            raise SystemExit(f"FAIL: connection closed during {command}")
        if line.startswith(tag.encode() + b" "):
            return untagged, line
        untagged += line
        literal = re.search(rb"\{(\d+)\}\r\n$", line)
        while literal:
            untagged += reader.read(int(literal.group(1)))
            line = reader.readline()
            untagged += line
            literal = re.search(rb"\{(\d+)\}\r\n$", line)


def run_checks(checks, wanted):
    """Runs the checks named in `wanted` (all when empty), printing "ok NAME" after each and "all checks
    passed" at the end; a failing check exits on its own."""
    for check in checks:
        if wanted and check.__name__ not in wanted:
            continue
        check()
        print(f"ok {check.__name__}", flush=True)
    print("all checks passed")
