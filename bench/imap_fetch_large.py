#!/usr/bin/env python3
"""Large-message FETCH: N clients at once, each fetching the newest message of INBOX whole (BODY.PEEK[]),
or taking it apart (BODYSTRUCTURE and its attachment decoded, BINARY.PEEK[2]). The message is a short
text part and a base64 attachment.

  imap_fetch_large.py put --port P --user U --password W --size BYTES [--smtp-port S]
      puts one message of about BYTES in U's INBOX: over SMTP when --smtp-port is given (then waits
      until it is delivered), else by IMAP APPEND
  imap_fetch_large.py fetch --port P --user U --password W --clients N
  imap_fetch_large.py parts --port P --user U --password W --clients N
  imap_fetch_large.py append --port P --user U --password W --clients N --size BYTES
      N clients at once, each APPENDing a message of about BYTES to INBOX
Last line of fetch: "RESULT imap_fetch_large clients=N size=S fetched=F seconds=T" (parts: likewise;
append: appended=A)
"""
import argparse
import imaplib
import random
import re
import smtplib
import sys
import threading
import time

parser = argparse.ArgumentParser()
parser.add_argument("mode", choices=["put", "fetch", "parts", "append"])
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--user", required=True)
parser.add_argument("--password", required=True)
parser.add_argument("--size", type=int, default=30_000_000)
parser.add_argument("--smtp-port", type=int)
parser.add_argument("--clients", type=int, default=10)
parser.add_argument("--timeout", type=float, default=600)
arguments = parser.parse_args()


def login():
    client = imaplib.IMAP4("127.0.0.1", arguments.port, timeout=arguments.timeout)
    client.login(arguments.user, arguments.password)
    return client


def newest(client):
    typ, data = client.select("INBOX", readonly=True)
    count = int(data[0])
    if typ != "OK" or count == 0:
        raise RuntimeError(f"INBOX of {arguments.user} is empty")
    typ, data = client.fetch(str(count), "(RFC822.SIZE)")
    return count, int(re.search(rb"RFC822.SIZE (\d+)", data[0]).group(1))


def large_message():
    rng = random.Random(3)
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    pool = [bytes(rng.choice(alphabet) for _ in range(76)) + b"\r\n" for _ in range(512)]
    body = b"".join(pool[index % 512] for index in range(arguments.size // 78 + 1))
    return (f"From: bench@bench.test\r\nTo: {arguments.user}\r\nSubject: large fetch\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"part\"\r\n\r\n--part\r\nContent-Type: text/plain\r\n\r\n"
            "see attached\r\n--part\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            ).encode() + body + b"--part--\r\n"


if arguments.mode == "put":
    message = large_message()
    if arguments.smtp_port:
        smtp = smtplib.SMTP("127.0.0.1", arguments.smtp_port, timeout=arguments.timeout)
        smtp.sendmail("bench@bench.test", [arguments.user], message)
        smtp.quit()
        client = login()
        deadline = time.monotonic() + arguments.timeout
        while time.monotonic() < deadline:
            try:
                if newest(client)[1] >= arguments.size:
                    break
            except RuntimeError:
                pass
            time.sleep(0.5)
    else:
        client = login()
        client.append("INBOX", None, None, message)
    print("put", newest(client))
    client.logout()
    sys.exit(0)

results = []
deadline = time.monotonic() + arguments.timeout


appended = large_message() if arguments.mode == "append" else b""


def fetch():
    try:
        client = login()
        if arguments.mode == "append":
            typ, _ = client.append("INBOX", None, None, appended)
            results.append(typ == "OK")
        else:
            number, size = newest(client)
            if arguments.mode == "parts":
                # The attachment decoded: three octets for every four base64 characters of its lines.
                typ, data = client.fetch(str(number), "(BODYSTRUCTURE BINARY.PEEK[2])")
                results.append(typ == "OK" and len(data[0][1]) >= arguments.size * 3 // 4 * 76 // 78)
            else:
                typ, data = client.fetch(str(number), "(BODY.PEEK[])")
                results.append(len(data[0][1]) == size and size >= arguments.size)
        client.logout()
    except Exception as error:  # noqa: BLE001 - a failed client is counted, not fatal
        print("client failed:", error, file=sys.stderr)
        results.append(False)


start = time.monotonic()
threads = [threading.Thread(target=fetch) for _ in range(arguments.clients)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join(max(1, deadline - time.monotonic()))
done = "appended" if arguments.mode == "append" else "fetched"
print(f"RESULT imap_{arguments.mode}_large clients={arguments.clients} size={arguments.size} {done}={sum(results)}"
      f" seconds={time.monotonic() - start:.1f}")
