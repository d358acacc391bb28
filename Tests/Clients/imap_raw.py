"""Shared by the IMAP client scripts: a raw IMAPS connection, logged in, for what imaplib will not send
(IDLE, commands left in flight)."""
import socket


def logged_in(port, context, user, password):
    """A TLS connection to 127.0.0.1:port after a successful LOGIN: (socket, reader)."""
    sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30), server_hostname="localhost")
    reader = sock.makefile("rb")
    reader.readline()
    sock.sendall(f'l LOGIN {user} "{password}"\r\n'.encode())
    while not reader.readline().startswith(b"l "):
        pass
    return sock, reader
