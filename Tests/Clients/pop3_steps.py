#!/usr/bin/env python3
"""Single POP3 steps for tests that restart or kill the server in between (poplib over POP3S).

usage: pop3_steps.py POP3S_PORT CA_FILE STEP [SMTP_PORT]
  send2 SMTP_PORT  send two messages to alice@example.org over SMTP
  delete-first     log in, DELE 1, QUIT; prints the QUIT reply
  state            log in; prints "count=N uids=a,b" and QUIT
  try-login        prints "in-use" or "ok count=N"
  hold             log in and keep the session open (until killed, at most 60 s)
  big SMTP_PORT    send a 20 MB message over SMTP, wait for it, RETR it byte for byte; prints "big ok"
"""
import poplib
import smtplib
import ssl
import sys
import time

port, ca_file, step = int(sys.argv[1]), sys.argv[2], sys.argv[3]
context = ssl.create_default_context(cafile=ca_file)
context.check_hostname = False


def login():
    session = poplib.POP3_SSL("127.0.0.1", port, context=context, timeout=15)
    session.user("alice@example.org")
    session.pass_("correct horse battery")
    return session


if step == "send2":
    for subject in ("one", "two"):
        client = smtplib.SMTP("127.0.0.1", int(sys.argv[4]), timeout=15)
        client.sendmail("carol@remote.example", ["alice@example.org"], f"Subject: {subject}\r\n\r\n{subject}\r\n")
        client.quit()
    print("sent")
elif step == "delete-first":
    session = login()
    session.dele(1)
    print(session.quit().decode())
elif step == "state":
    session = login()
    uids = [entry.decode().split()[1] for entry in session.uidl()[1]]
    print(f"count={session.stat()[0]} uids={','.join(uids)}")
    session.quit()
elif step == "try-login":
    try:
        session = login()
        print(f"ok count={session.stat()[0]}")
        session.quit()
    except poplib.error_proto as error:
        print("in-use" if "[IN-USE]" in str(error) else f"error {error}")
elif step == "big":
    lines = [(f"{n:08d} " + "0123456789abcdef" * 4 + ".").encode() for n in range(20 * 1024 * 1024 // 76)]
    body = b"Subject: big\r\n\r\n" + b"\r\n".join(b"." + line if n % 1000 == 0 else line for n, line in enumerate(lines)) + b"\r\n"
    client = smtplib.SMTP("127.0.0.1", int(sys.argv[4]), timeout=120)
    client.sendmail("carol@remote.example", ["alice@example.org"], body)
    client.quit()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        session = login()
        count = session.stat()[0]
        if count and session.top(count, 0)[1][-2:] and any(b"Subject: big" in l for l in session.top(count, 0)[1]):
            break
        session.quit()
        time.sleep(0.3)
    size = int(session.list(count).split()[2])
    response, retrieved, octets = session.retr(count)
    content = b"\r\n".join(retrieved) + b"\r\n"
    session.quit()
    ok = content.endswith(body) and octets == size
    print("big ok" if ok else f"big mismatch: {len(content)} vs {len(body)}, octets {octets} vs LIST {size}")
elif step == "hold":
    # The test's own try-login probes take the maildrop for a moment: retry while they hold it.
    deadline = time.monotonic() + 30
    while True:
        try:
            session = login()
            break
        except poplib.error_proto as error:
            if "[IN-USE]" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    print("holding", flush=True)
    time.sleep(60)
