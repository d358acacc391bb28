"""Steps of the IMAP kill -9 test: a MOVE of 300 messages and an APPEND cut off in
its literal are in flight when the test kills the server; after a restart each is done entirely or
not at all, and no UID is handed out twice.
  prepare  PORT CAFILE          300 messages in INBOX, an empty Moved; prints "ready"
  interrupt PORT CAFILE MARKER  UID MOVE 1:* Moved sent, and half of a 2 MB APPEND literal; then
                                writes MARKER and waits to be cut off
  check    PORT CAFILE          after the restart: all-or-nothing, UIDs below UIDNEXT, a new APPEND
                                gets a UID above every UID there"""
import re
import ssl
import sys

from imap_raw import imap_session, logged_in
from smtp_raw import check

step, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
USER, PASSWORD = "alice@example.org", "correct horse battery"
COUNT = 300
context = ssl.create_default_context(cafile=cafile)
context.check_hostname = False


def session():
    return imap_session(port, context, USER, PASSWORD, timeout=30)


def raw_session():
    return logged_in(port, context, USER, PASSWORD)


def messages(imap, mailbox):
    typ, data = imap.status(mailbox, "(MESSAGES UIDNEXT)")
    found = dict(re.findall(rb"(MESSAGES|UIDNEXT) (\d+)", data[0]))
    return int(found[b"MESSAGES"]), int(found[b"UIDNEXT"])


if step == "prepare":
    imap = session()
    check("CREATE Moved", imap.create("Moved")[0] == "OK")
    for n in range(COUNT):
        imap.append("INBOX", None, None, b"Subject: kept %d\r\n\r\nbody %d\r\n" % (n, n))
    check(f"{COUNT} messages in INBOX", messages(imap, "INBOX")[0] == COUNT)
    imap.logout()
    print("ready")
elif step == "interrupt":
    marker = sys.argv[4]
    mover, mover_reader = raw_session()
    mover.sendall(b"s SELECT INBOX\r\n")
    while not mover_reader.readline().startswith(b"s "):
        pass
    appender, appender_reader = raw_session()
    appender.sendall(b"a APPEND Moved {2000000}\r\n")
    check("APPEND literal accepted", appender_reader.readline().startswith(b"+"))
    appender.sendall(b"Subject: cut off\r\n\r\n" + b"x" * 1_000_000)
    mover.sendall(b"m UID MOVE 1:* Moved\r\n")
    with open(marker, "w") as handle:
        handle.write("sent")
    # The test kills the server meanwhile: read until the connection is gone (bounded by the timeout).
    try:
        while mover_reader.readline():
            pass
    except OSError:
        pass
elif step == "check":
    imap = session()
    inbox, _ = messages(imap, "INBOX")
    archived, uidnext = messages(imap, "Moved")
    check("the MOVE happened entirely or not at all", (inbox, archived) in ((COUNT, 0), (0, COUNT)), (inbox, archived))
    imap.select("Moved")
    typ, data = imap.uid("SEARCH", None, "ALL")
    uids = [int(uid) for uid in data[0].split()]
    check("the cut-off APPEND left nothing behind", len(uids) == archived, (len(uids), archived))
    check("every UID is below UIDNEXT", all(uid < uidnext for uid in uids), (uids[-3:], uidnext))
    typ, data = imap.append("Moved", None, None, b"Subject: after\r\n\r\nafter the restart\r\n")
    new_uid = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
    check("a new APPEND gets a UID above every UID there, at or past UIDNEXT",
          new_uid >= uidnext and all(new_uid > uid for uid in uids), (new_uid, uidnext))
    imap.logout()
    print(f"all checks passed ({'moved' if archived else 'not moved'})")
