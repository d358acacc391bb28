#!/usr/bin/env python3
"""Retention as a client sees it: a delivered message's queue entry is purged while the message stays
readable over IMAP, and an IMAP session left behind the pruned change feed is told BYE rather than
shown a wrong mailbox.

usage: retention_checks.py SMTP_PORT IMAPS_PORT ADMIN_PORT TOKEN CA_FILE
The suite runs with --retention-queue-seconds 1 --retention-change-feed-seconds 2
--maintenance-interval-seconds 1; alice@example.org / "correct horse battery" exists with an empty INBOX.
Prints "ok <check>" per check and "all checks passed" at the end; exits 1 at the first failure.
"""
import imaplib
import smtplib
import ssl
import sys
import time

from imap_raw import logged_in
from smtp_raw import HOST, admin_api, check

smtp_port, imaps_port, admin_port, token, ca_file = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4],
                                                      sys.argv[5])
USER, PASSWORD = "alice@example.org", "correct horse battery"
context = ssl.create_default_context(cafile=ca_file)
context.check_hostname = False

# A session that selects INBOX now and then says nothing while the mailbox changes.
behind, behind_reader = logged_in(imaps_port, context, USER, PASSWORD)
behind.sendall(b"s SELECT INBOX\r\n")
while not behind_reader.readline().startswith(b"s "):
    pass

client = smtplib.SMTP(HOST, smtp_port, timeout=15)
client.sendmail("carol@remote.example", [USER], b"Subject: kept\r\nFrom: carol@remote.example\r\n\r\nstill here\r\n")
client.quit()


def queue_listing():
    return str(admin_api(admin_port, token, "GET", "queue")[1])


deadline = time.monotonic() + 30
while time.monotonic() < deadline and "carol@remote.example" in queue_listing():
    time.sleep(0.2)
check("the delivered message's queue entry is purged after the retention", "carol@remote.example" not in queue_listing(),
      queue_listing())

imap = imaplib.IMAP4_SSL(HOST, imaps_port, ssl_context=context, timeout=15)
imap.login(USER, PASSWORD)
imap.select("INBOX")
typ, data = imap.fetch("1", "(BODY.PEEK[])")
check("... and the message is still in the INBOX, whole", typ == "OK" and data[0][1].endswith(b"still here\r\n"), f"{data!r}")
imap.logout()

# The feed entry of the delivery is pruned after 2 s (checked each second): the silent session can no
# longer be told what changed, so its next command ends it with BYE instead of a wrong picture.
time.sleep(4.5)
behind.sendall(b"n NOOP\r\n")
lines = []
while True:
    line = behind_reader.readline()
    lines.append(line)
    if not line or line.startswith(b"n "):
        break
check("a session behind the pruned change feed gets * BYE [UNAVAILABLE], then its tagged answer",
      any(line.startswith(b"* BYE [UNAVAILABLE]") for line in lines) and lines[-1].startswith(b"n OK"), f"{lines!r}")
check("... and the connection closes", behind_reader.readline() == b"")
behind.close()

# A new session sees the mailbox as it is.
imap = imaplib.IMAP4_SSL(HOST, imaps_port, ssl_context=context, timeout=15)
imap.login(USER, PASSWORD)
typ, data = imap.select("INBOX")
check("a new session selects INBOX with the message", typ == "OK" and data[0] == b"1", f"{data!r}")
imap.logout()
print("all checks passed")
