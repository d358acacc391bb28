#!/usr/bin/env python3
"""Mail submitted while a host fails, for the separate-hosts test: `submit` sends messages to bob one
connection each for a while and prints the Subject of every one the server answered 250 for (a
temporary refusal while the database is down is not an acceptance); `verify` reads bob's INBOX over IMAP
and checks that each accepted Subject is there exactly once (nothing lost, nothing delivered twice).

usage: hosts_faults.py submit SMTP_HOST SMTP_PORT CERTIFICATE TAG COUNT SECONDS
       hosts_faults.py verify IMAP_HOST IMAP_PORT CERTIFICATE SUBJECTS_FILE
"""
import imaplib
import smtplib
import ssl
import sys
import time

from smtp_raw import check

ALICE, BOB, PASSWORD = "alice@example.org", "bob@example.org", "correct horse battery"


def context(certificate):
    tls = ssl.create_default_context(cafile=certificate)
    tls.check_hostname = False
    return tls


def submit(host, port, certificate, tag, count, seconds):
    tls = context(certificate)
    deadline = time.monotonic() + seconds
    sent = 0
    for index in range(count):
        if time.monotonic() > deadline:
            break
        subject = f"{tag}-{index}"
        try:
            client = smtplib.SMTP(host, port, timeout=15)
            client.starttls(context=tls)
            client.login(ALICE, PASSWORD)
            client.sendmail(ALICE, [BOB], f"From: {ALICE}\r\nTo: {BOB}\r\nSubject: {subject}\r\n\r\nbody\r\n")
            client.quit()
            print(f"accepted {subject}", flush=True)
            sent += 1
        except (smtplib.SMTPException, OSError) as error:
            # Refused (4xx while the database is down) or cut off: not accepted, so nothing is owed.
            print(f"refused {subject}: {error}", flush=True)
            time.sleep(0.1)
    print(f"submitted {sent}")


def verify(host, port, certificate, subjects_file):
    with open(subjects_file) as handle:
        expected = [line.strip() for line in handle if line.strip()]
    session = imaplib.IMAP4(host, port, timeout=15)
    session.starttls(ssl_context=context(certificate))
    session.login(BOB, PASSWORD)
    typ, _ = session.select("INBOX", readonly=True)
    check("SELECT INBOX", typ == "OK")
    typ, data = session.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    check("FETCH the subjects", typ == "OK")
    found = {}
    for item in data:
        if isinstance(item, tuple):
            subject = item[1].decode().replace("Subject:", "").strip()
            found[subject] = found.get(subject, 0) + 1
    missing = [subject for subject in expected if found.get(subject, 0) == 0]
    twice = [subject for subject, count in found.items() if count > 1]
    check(f"all {len(expected)} accepted messages are in the INBOX", not missing, f"missing {missing[:10]}")
    check("none delivered twice", not twice, f"twice {twice[:10]}")
    session.logout()
    print("all checks passed")


if sys.argv[1] == "submit":
    submit(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6]), float(sys.argv[7]))
else:
    verify(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
