#!/usr/bin/env python3
"""Connects, reads the greeting, touches MARKER_FILE, then waits (at most 20 s) for whatever the server
sends next and prints it. Used to check what an idle client hears when the server shuts down.

usage: idle_client.py PORT MARKER_FILE [LINE_TO_SEND_FIRST]
"""
import socket
import sys
import time

port, marker = int(sys.argv[1]), sys.argv[2]
connection = socket.create_connection(("127.0.0.1", port), timeout=20)
reader = connection.makefile("rb")
print("greeting:", reader.readline().decode().rstrip())
if len(sys.argv) > 3:
    connection.sendall(sys.argv[3].encode() + b"\r\n")
    print("reply:", reader.readline().decode().rstrip())
open(marker, "w").close()
started = time.monotonic()
line = reader.readline()
print("next:", line.decode().rstrip())
print("closed:", reader.readline() == b"")
print(f"waited: {time.monotonic() - started:.2f}")
