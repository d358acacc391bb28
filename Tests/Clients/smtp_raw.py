"""Shared by the SMTP client scripts: a check that stops at the first failure, and a raw line client
that sends bytes exactly as given (for what a polite client never sends)."""
import socket
import ssl
import sys

HOST = "127.0.0.1"


def check(name, condition, detail=""):
    if not condition:
        print(f"FAIL {name}: {detail}")
        sys.exit(1)
    print(f"ok {name}")


class Raw:
    def __init__(self, port, source="127.0.0.1", tls=None):
        self.socket = socket.create_connection((HOST, port), timeout=15, source_address=(source, 0))
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_hostname="localhost")
        self.reader = self.socket.makefile("rb")

    def send(self, data):
        self.socket.sendall(data)

    def reply(self):
        lines = []
        while True:
            try:
                line = self.reader.readline()
            except (ConnectionResetError, socket.timeout):
                return "closed"
            if not line:
                return "closed"
            lines.append(line.decode(errors="replace").rstrip("\r\n"))
            if len(line) < 4 or line[3:4] != b"-":
                return "\n".join(lines)

    def closed(self):
        try:
            return self.reader.readline() == b""
        except (ConnectionResetError, socket.timeout, ssl.SSLError):
            return True

    def hello(self):
        greeting = self.reply()
        self.send(b"EHLO client.test\r\n")
        self.reply()
        return greeting

    def close(self):
        # The file object keeps the descriptor open until it is closed as well.
        self.reader.close()
        self.socket.close()
