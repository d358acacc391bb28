#!/usr/bin/env python3
"""An expunge racing deliveries into the same mailbox: while 200 messages arrive over SMTP (and the
delivery worker files them into the INBOX), an IMAP session keeps marking what it has seen \\Deleted and
expunging. Every message must end up either expunged (and only after this session marked it) or still
in the INBOX: none lost, none twice, and a message that arrived between the STORE and the EXPUNGE is
never expunged unmarked.

usage: imap_expunge_race.py SMTP_PORT IMAPS_PORT CA_FILE
alice@example.org / "correct horse battery" exists with an empty INBOX.
Prints "ok <check>" per check and "all checks passed" at the end; exits 1 at the first failure.
"""
import imaplib
import re
import smtplib
import ssl
import sys
import threading
import time

from smtp_raw import HOST, check

smtp_port, imaps_port, ca_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
USER, PASSWORD = "alice@example.org", "correct horse battery"
COUNT = 200
context = ssl.create_default_context(cafile=ca_file)
context.check_hostname = False
sent = []


def send():
    client = smtplib.SMTP(HOST, smtp_port, timeout=30)
    for number in range(COUNT):
        client.sendmail("bob@remote.test", [USER], f"Subject: race {number}\r\n\r\nbody {number}\r\n".encode())
        sent.append(number)
    client.quit()


def subjects(imap, uids):
    """UID -> the number in its Subject, for the given UIDs."""
    if not uids:
        return {}
    typ, data = imap.uid("FETCH", ",".join(uids), "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    found = {}
    for item in data:
        if isinstance(item, tuple):
            uid = re.search(rb"UID (\d+)", item[0]).group(1).decode()
            found[uid] = int(re.search(rb"race (\d+)", item[1]).group(1))
    return found


sender = threading.Thread(target=send)
sender.start()
imap = imaplib.IMAP4_SSL(HOST, imaps_port, ssl_context=context, timeout=30)
imap.login(USER, PASSWORD)
imap.select("INBOX")
marked = {}      # UID -> number: what this session marked \Deleted
deadline = time.monotonic() + 60
rounds = 0
while time.monotonic() < deadline and rounds < 2000:
    rounds += 1
    typ, data = imap.uid("SEARCH", "UNDELETED")
    uids = data[0].split()
    uids = [uid.decode() for uid in uids][:7]  # a few at a time, so deliveries interleave
    if uids:
        marked.update(subjects(imap, uids))
        imap.uid("STORE", ",".join(uids), "+FLAGS.SILENT", "(\\Deleted)")
    imap.expunge()
    if not sender.is_alive() and not uids:
        break
sender.join(30)
check("every message was accepted over SMTP", len(sent) == COUNT, len(sent))

# Whatever is left once deliveries are done: nothing of it is marked, nothing was lost.
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    imap.noop()
    typ, data = imap.uid("SEARCH", "ALL")
    remaining = subjects(imap, [uid.decode() for uid in data[0].split()])
    if len(remaining) + len(marked) >= COUNT:
        break
    time.sleep(0.3)
check(f"marked and expunged over {rounds} rounds, the rest still there: {len(marked)} + {len(remaining)} = {COUNT}",
      len(marked) + len(remaining) == COUNT, (len(marked), len(remaining)))
check("no message both expunged and still there", not set(marked.values()) & set(remaining.values()))
check("every message exactly once", sorted(list(marked.values()) + list(remaining.values())) == list(range(COUNT)))
typ, data = imap.uid("SEARCH", "DELETED")
check("nothing marked is left behind (each marked message was expunged)", data[0].split() == [], data)
check("the marked ones are gone", not set(marked) & set(remaining), set(marked) & set(remaining))
check("some expunges raced deliveries", len(marked) > 0 and rounds > 1, (len(marked), rounds))
imap.logout()
print("all checks passed")
