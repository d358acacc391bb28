"""Shared by the client scripts: a check that stops at the first failure, a raw line client that sends
bytes exactly as given (for what a polite client never sends), and a call of the admin API."""
import json
import socket
import ssl
import sys
import urllib.request

HOST = "127.0.0.1"


def check(name, condition, detail=""):
    if not condition:
        print(f"FAIL {name}: {detail}")
        sys.exit(1)
    print(f"ok {name}")


def admin_api(port, token, method, path, body=None, host=HOST):
    """One admin API request with the operator's bearer token: (HTTP status, the JSON answer or None)."""
    request = urllib.request.Request(
        f"http://{host}:{port}/api/v1/{path}", method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=15) as response:
        return response.status, json.loads(response.read() or b"null")


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
