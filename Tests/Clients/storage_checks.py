#!/usr/bin/env python3
"""Storage running short, as clients see it.

usage: storage_checks.py low SMTP_PORT IMAPS_PORT OPS_PORT ADMIN_PORT CA_FILE
         the suite runs with a free space minimum no filesystem here meets: SMTP refuses MAIL with
         452 4.3.1 (before any content), IMAP APPEND gets NO [LIMIT], /readyz says 503 on the ops and
         admin ports, and reading and logging in still work
       storage_checks.py fill SMTP_PORT CA_FILE
         the database's filesystem is small: messages are sent until one is refused; the refusal is
         452 4.3.1 (never a 5xx, never a lost connection); prints "accepted N"
Prints "ok <check>" per check and "all checks passed" at the end; exits 1 at the first failure.
"""
import imaplib
import smtplib
import ssl
import sys
import urllib.error
import urllib.request

from smtp_raw import HOST, check

USER, PASSWORD = "alice@example.org", "correct horse battery"
mode = sys.argv[1]


def status_of(url):
    try:
        with urllib.request.urlopen(url, timeout=15) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


if mode == "low":
    smtp_port, imaps_port, ops_port, admin_port, ca_file = (int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
                                                             int(sys.argv[5]), sys.argv[6])
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = False
    client = smtplib.SMTP(HOST, smtp_port, timeout=15)
    client.ehlo("client.test")
    code, text = client.mail("carol@remote.example")
    check("MAIL below the free space minimum: 452 4.3.1", code == 452 and text.startswith(b"4.3.1"), (code, text))
    check("... and the session goes on", client.noop()[0] == 250)
    client.quit()
    imap = imaplib.IMAP4_SSL(HOST, imaps_port, ssl_context=context, timeout=15)
    check("IMAP LOGIN still works", imap.login(USER, PASSWORD)[0] == "OK")
    typ, data = imap.append("INBOX", None, None, b"Subject: no room\r\n\r\nbody\r\n")
    check("APPEND below the free space minimum: NO [LIMIT]", typ == "NO" and b"[LIMIT]" in data[0], (typ, data))
    check("SELECT still works", imap.select("INBOX")[0] == "OK")
    imap.logout()
    check("/readyz on the ops port: 503", status_of(f"http://{HOST}:{ops_port}/readyz") == 503)
    check("/readyz of the admin API: 503", status_of(f"http://{HOST}:{admin_port}/readyz") == 503)
    check("/healthz still 200 (the process is alive)", status_of(f"http://{HOST}:{ops_port}/healthz") == 200)
elif mode == "fill":
    smtp_port = int(sys.argv[2])
    body = b"Subject: filler\r\n\r\n" + (b"0123456789abcdef" * 63 + b"\r\n") * 64
    accepted = 0
    refusal = None
    for attempt in range(400):
        client = smtplib.SMTP(HOST, smtp_port, timeout=30)
        try:
            client.sendmail("carol@remote.example", [USER], body + b"number %d\r\n" % attempt)
            accepted += 1
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError, smtplib.SMTPRecipientsRefused) as error:
            refusal = error
            break
        finally:
            client.quit()
    check("a full disk is refused with 452 4.3.1 (at MAIL or after the content)",
          refusal is not None and getattr(refusal, "smtp_code", 0) == 452 and b"4.3.1" in getattr(refusal, "smtp_error", b""),
          f"{refusal!r} after {accepted}")
    check("some messages fitted before", accepted > 0, accepted)
    print(f"accepted {accepted}")
else:
    check("mode", False, mode)
print("all checks passed")
