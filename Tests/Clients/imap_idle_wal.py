"""IDLE sessions hold no read transaction open, so SQLite's checkpoints keep the WAL
bounded while mail arrives. 20 sessions IDLE on INBOX (each hearing of every message) while 600
messages of 20 KB (12 MB) are APPENDed; the WAL file must stay well below what it grows to when a
reader pins an old snapshot (everything written since).
Arguments: IMAPS port, CA certificate file, the database file."""
import imaplib
import os
import ssl
import sys

from imap_raw import logged_in
from smtp_raw import check

port, cafile, database = int(sys.argv[1]), sys.argv[2], sys.argv[3]
USER, PASSWORD = "alice@example.org", "correct horse battery"
context = ssl.create_default_context(cafile=cafile)
context.check_hostname = False

idlers = []
for n in range(20):
    sock, reader = logged_in(port, context, USER, PASSWORD)
    sock.sendall(b"s SELECT INBOX\r\ni IDLE\r\n")
    while not reader.readline().startswith(b"+"):
        pass
    idlers.append((sock, reader))

writer = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=context, timeout=30)
writer.login(USER, PASSWORD)
largest = 0
for n in range(600):
    body = (b"%06d " % n) * 2900  # 20 KB, different for each message (no shared content)
    typ, _ = writer.append("INBOX", None, None, b"Subject: wal %d\r\n\r\n" % n + body + b"\r\n")
    assert typ == "OK"
    if n % 50 == 49:
        largest = max(largest, os.path.getsize(database + "-wal"))
# Every idler heard of the last message (so they were really following along).
for sock, reader in idlers:
    heard = b""
    while b"* 600 EXISTS" not in heard:
        line = reader.readline()
        if not line:
            break
        heard = line
    check_line = heard.startswith(b"* 600 EXISTS")
    if not check_line:
        check("an IDLE session heard of the last message", False, heard)
check("20 IDLE sessions heard of all 600 messages", True)
check("12 MB written while 20 sessions IDLE: the WAL stayed under 8 MB (checkpoints were not held back)",
      largest < 8 * 1024 * 1024, largest)
for sock, reader in idlers:
    sock.sendall(b"DONE\r\n")
    reader.close()
    sock.close()
writer.logout()
print(f"all checks passed (largest WAL {largest} bytes)")
