#!/usr/bin/env python3
"""Talks to a running Estafeta with Python's standard clients (smtplib, poplib, imaplib, urllib):
the greeting of every listener, over plain TCP and implicit TLS (verifying the server certificate
against the CA file given), and the HTTP health endpoints.

usage: probe_suite.py READY_JSON CA_FILE SERVICES
  READY_JSON  the ready file (listener name -> port)
  CA_FILE     the certificate to trust for TLS listeners
  SERVICES    comma list of what to probe: smtp,pop3,imap,admin,ops
Prints one line per check and exits non-zero on the first failure.
"""
import imaplib
import json
import poplib
import smtplib
import ssl
import sys
import urllib.request

HOST = "127.0.0.1"
TIMEOUT = 10


def check(name, condition, detail=""):
    if not condition:
        print(f"FAIL {name} {detail}")
        sys.exit(1)
    print(f"ok {name}")


def main():
    ports = json.load(open(sys.argv[1]))
    context = ssl.create_default_context(cafile=sys.argv[2])
    services = set(sys.argv[3].split(","))

    if "smtp" in services:
        for name in ("smtp", "submission"):
            with smtplib.SMTP(HOST, ports[name], timeout=TIMEOUT) as client:
                code, _ = client.noop()
                check(f"{name} NOOP", code == 250, code)
        client = smtplib.SMTP_SSL(HOST, ports["submissions"], timeout=TIMEOUT, context=context)
        code, _ = client.noop()
        check("submissions (implicit TLS) NOOP", code == 250, code)
        client.quit()

    if "pop3" in services:
        client = poplib.POP3(HOST, ports["pop3"], timeout=TIMEOUT)
        check("pop3 greeting", client.getwelcome().startswith(b"+OK"), client.getwelcome())
        client.quit()
        client = poplib.POP3_SSL(HOST, ports["pop3s"], timeout=TIMEOUT, context=context)
        check("pop3s (implicit TLS) greeting", client.getwelcome().startswith(b"+OK"), client.getwelcome())
        client.quit()

    if "imap" in services:
        # imaplib asks for CAPABILITY on connect and insists on IMAP4rev1 or later.
        client = imaplib.IMAP4(HOST, ports["imap"], timeout=TIMEOUT)
        check("imap capabilities", "IMAP4REV1" in client.capabilities, client.capabilities)
        check("imap logout", client.logout()[0] == "BYE")
        client = imaplib.IMAP4_SSL(HOST, ports["imaps"], ssl_context=context, timeout=TIMEOUT)
        check("imaps (implicit TLS) capabilities", "IMAP4REV2" in client.capabilities, client.capabilities)
        client.logout()

    for name in ("admin", "ops"):
        if name not in services:
            continue
        with urllib.request.urlopen(f"http://{HOST}:{ports[name]}/healthz", timeout=TIMEOUT) as response:
            body = json.load(response)
            check(f"{name} /healthz", response.status == 200 and body.get("status") == "ok", body)
        with urllib.request.urlopen(f"http://{HOST}:{ports[name]}/metrics", timeout=TIMEOUT) as response:
            check(f"{name} /metrics", response.status == 200 and response.headers.get_content_type() == "text/plain")
    if "admin" in services:
        with urllib.request.urlopen(f"http://{HOST}:{ports['admin']}/readyz", timeout=TIMEOUT) as response:
            check("admin /readyz", response.status == 200 and json.load(response).get("status") == "ready")
    print("all checks passed")


if __name__ == "__main__":
    main()
