#!/usr/bin/env python3
"""Fills a queue through authenticated submission (STARTTLS + AUTH PLAIN): MSGS messages of SIZE
octets from USER to RCPT over SESSIONS connections in parallel. Used to load Estafeta's relay queue
before the relay worker starts (smtp-source cannot log in). Loopback only; bounded in time.

usage: smtp_submit.py PORT USER PASSWORD RCPT MSGS SESSIONS SIZE
Last line: RESULT smtp_submit msgs=N secs=S
"""
import smtplib
import ssl
import sys
import threading
import time

port, user, password, rcpt = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
msgs, sessions, size = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
deadline = time.monotonic() + 600
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
line = b"x" * 76 + b"\r\n"
body = line * max(1, size // len(line))
sent = [0] * sessions
errors = []


def session(index, count):
    try:
        client = smtplib.SMTP("127.0.0.1", port, timeout=60)
        client.starttls(context=context)
        client.login(user, password)
        for n in range(count):
            if time.monotonic() > deadline:
                break
            message = f"From: {user}\r\nTo: {rcpt}\r\nSubject: relay bench {index}.{n}\r\n\r\n".encode() + body
            client.sendmail(user, [rcpt], message)
            sent[index] += 1
        client.quit()
    except Exception as error:  # reported below; the count shows what was queued
        errors.append(repr(error))


started = time.monotonic()
threads = [threading.Thread(target=session, args=(i, msgs // sessions + (1 if i < msgs % sessions else 0)))
           for i in range(sessions)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
for error in errors[:3]:
    print("error:", error, file=sys.stderr)
print(f"RESULT smtp_submit msgs={sum(sent)} secs={time.monotonic() - started:.3f}")
sys.exit(0 if sum(sent) == msgs else 1)
