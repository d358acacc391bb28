#!/usr/bin/env python3
"""The suite as separate processes on one database, the way docker-compose.yml runs it: estafeta-admin,
estafeta-smtp, two estafeta-relay, two estafeta-imap and one estafeta-pop3. Through the admin API it
creates a domain and two accounts; alice submits (STARTTLS + AUTH) one message to bob (local) and one to
carol@remote.test (a real SMTP server on loopback, aiosmtpd); the queue drains (/api/v1/queue/stats);
bob reads his message over POP3 and over IMAP through both IMAP processes, and a flag set through one
IMAP process reaches an IDLE client of the other, and a mailbox and a message filed through one reach a NOTIFY
client of the other.

usage: multiprocess_checks.py PORTS_JSON CERTIFICATE TOKEN REMOTE_MAILDIR [HOSTS_JSON]
  PORTS_JSON: {"admin": {...ready file...}, "smtp": {...}, "imap1": {...}, "imap2": {...}, "pop3": {...}}
  HOSTS_JSON: each process's address, when they are not all on loopback (separate hosts)
Prints "ok <check>" per check and "all checks passed"; exits 1 at the first failure.
"""
import imaplib
import json
import os
import poplib
import smtplib
import ssl
import sys
import time

from smtp_raw import admin_api, check

ports = json.loads(sys.argv[1])
certificate, token, remote_maildir = sys.argv[2], sys.argv[3], sys.argv[4]
hosts = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}


def host(name):
    return hosts.get(name, "127.0.0.1")


context = ssl.create_default_context(cafile=certificate)
context.check_hostname = False
ALICE, BOB, PASSWORD = "alice@example.org", "bob@example.org", "correct horse battery"


def api(method, path, body=None):
    return admin_api(ports["admin"]["admin"], token, method, path, body, host=host("admin"))


def until(what, condition, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    check(what, False, f"not within {seconds} s")


# --- The operator's side: a domain and two accounts over the admin API ---
check("domain created", api("POST", "domains", {"name": "example.org"})[0] == 201)
for address in (ALICE, BOB):
    check(f"account {address} created", api("POST", "accounts", {"address": address, "password": PASSWORD})[0] == 201)

# --- Submission: one local and one remote recipient, in one message each ---
client = smtplib.SMTP(host("smtp"), ports["smtp"]["submission"], timeout=15)
client.starttls(context=context)
client.login(ALICE, PASSWORD)
client.sendmail(ALICE, [BOB], f"From: {ALICE}\r\nTo: {BOB}\r\nSubject: across processes\r\n\r\nlocal body\r\n")
client.sendmail(ALICE, ["carol@remote.test"], f"From: {ALICE}\r\nTo: carol@remote.test\r\nSubject: to the remote MX\r\n\r\nremote body\r\n")
client.quit()


def drained():
    _, stats = api("GET", "queue/stats")
    counts = stats["counts"]
    return counts["delivered"] >= 2 and counts["queued"] == 0 and counts["delivering"] == 0 and counts["deferred"] == 0
until("queue drained (queue/stats)", drained)
check("queue drained (queue/stats)", True)
remote = until("the remote MX has the message", lambda: [name for name in os.listdir(remote_maildir) if name.endswith(".eml")])
with open(os.path.join(remote_maildir, remote[0]), "rb") as handle:
    relayed = handle.read()
check("the remote MX got alice's message", b"Subject: to the remote MX" in relayed and b"carol@remote.test" in relayed)

# --- POP3, keeping the message on the server ---
pop = poplib.POP3(host("pop3"), ports["pop3"]["pop3"], timeout=15)
pop.stls(context=context)
pop.user(BOB)
pop.pass_(PASSWORD)
count, _ = pop.stat()
lines = pop.retr(1)[1]
check("POP3 reads bob's message", count == 1 and b"Subject: across processes" in lines and b"local body" in lines)
pop.quit()


# --- IMAP through both processes; a flag set through one reaches an IDLE client of the other ---
def imap_login(name):
    session = imaplib.IMAP4(host(name), ports[name]["imap"], timeout=15)
    session.starttls(ssl_context=context)
    session.login(BOB, PASSWORD)
    return session


first, second = imap_login("imap1"), imap_login("imap2")
# \Recent (IMAP4rev1, RFC 3501 §2.3.2): the first session to select claims the new message, in whichever
# process; the other process's session sees it as not recent.
for name, session, recent in (("imap1", first, b"1"), ("imap2", second, b"0")):
    typ, data = session.select("INBOX")
    check(f"{name}: SELECT INBOX", typ == "OK" and data[0] == b"1", f"{typ} {data}")
    check(f"{name}: RECENT {recent.decode()}", session.response("RECENT")[1] == [recent], f"{session.response('RECENT')}")
    typ, data = session.fetch("1", "(BODY.PEEK[TEXT])")
    check(f"{name}: FETCH the message", typ == "OK" and b"local body" in data[0][1], f"{data}")

tag = second._new_tag().decode()
second.send(f"{tag} IDLE\r\n".encode())
check("imap2: IDLE accepted", second.readline().startswith(b"+"))
started = time.monotonic()
typ, _ = first.store("1", "+FLAGS", "(\\Flagged)")
check("imap1: STORE +FLAGS \\Flagged", typ == "OK")
second.sock.settimeout(10)
update = second.readline()
waited = time.monotonic() - started
check("imap2 (IDLE) hears imap1's flag", update.startswith(b"* 1 FETCH") and b"\\Flagged" in update, f"{update!r}")
check("within 2 s", waited < 2, f"{waited:.2f} s")
second.send(b"DONE\r\n")
check("IDLE ends", second.readline().startswith(tag.encode() + b" OK"))
# NOTIFY (RFC 5465) across processes: a mailbox created and a message filed through imap1 are told to a
# session of imap2 that sends nothing meanwhile.
tag = second._new_tag().decode()
second.send(f"{tag} NOTIFY SET (personal (MessageNew MessageExpunge MailboxName))\r\n".encode())
while not (line := second.readline()).startswith(tag.encode() + b" "):
    pass
check("imap2: NOTIFY SET", line.startswith(tag.encode() + b" OK"), f"{line!r}")
first.create("Notified")
first.append("Notified", None, None, b"Subject: told\r\n\r\nacross processes\r\n")
told, deadline = [], time.monotonic() + 10
while time.monotonic() < deadline and not any(b'* STATUS "Notified" (MESSAGES 1 ' in line for line in told):
    try:
        told.append(second.readline())
    except TimeoutError:
        break
check("imap2 is told of imap1's new mailbox", b'* LIST () "/" "Notified"\r\n' in told, f"{told!r}")
check("imap2 is told of imap1's message there", any(b'* STATUS "Notified" (MESSAGES 1 ' in line for line in told), f"{told!r}")
first.logout()
second.logout()
print("all checks passed")
