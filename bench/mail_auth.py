#!/usr/bin/env python3
"""Load for bench/mail_auth.sh.

  mail_auth.py prepare DIR SIZE   an RSA-2048 key (openssl), a SIZE-octet message from alice@signer.example
                                  signed with it by dkimpy (relaxed/relaxed) in DIR/signed.eml, and the
                                  dnsmasq arguments that publish its SPF, DKIM and DMARC records (printed)
  mail_auth.py send PORT FILE MSGS SESSIONS
                                  FILE's message MSGS times to test1@bench.test over SESSIONS connections to
                                  the MX, from alice@signer.example (every copy is verified again: the
                                  server keeps no verdicts). Loopback only; bounded in time.
Last line of send: RESULT mail_auth_send msgs=N secs=S
"""
import base64
import os
import smtplib
import subprocess
import sys
import threading
import time

import dkim


def prepare(directory, size):
    key = os.path.join(directory, "rsa.pem")
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", key, "2048"], check=True, capture_output=True)
    public = subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-outform", "DER"], check=True, capture_output=True).stdout
    record = "v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode()
    line = b"x" * 76 + b"\r\n"
    body = line * max(1, int(size) // len(line))
    message = (b"From: Alice <alice@signer.example>\r\nTo: <test1@bench.test>\r\nSubject: signed bench\r\n"
               b"Date: Fri, 04 Dec 2026 08:00:00 +0000\r\nMessage-ID: <bench@signer.example>\r\n\r\n" + body)
    signature = dkim.sign(message, b"bench", b"signer.example", open(key, "rb").read(),
                          include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    with open(os.path.join(directory, "signed.eml"), "wb") as f:
        f.write(signature + message)
    parts = [record[i:i + 250] for i in range(0, len(record), 250)]
    print("--txt-record=bench._domainkey.signer.example," + ",".join(parts))
    print("--txt-record=signer.example,v=spf1 ip4:127.0.0.1 -all")
    print("--txt-record=_dmarc.signer.example,v=DMARC1; p=reject")


def send(port, path, msgs, sessions):
    message = open(path, "rb").read()
    deadline = time.monotonic() + 600
    sent = [0] * sessions
    errors = []

    def session(index, count):
        try:
            client = smtplib.SMTP("127.0.0.1", port, local_hostname="client.signer.example", timeout=60)
            for _ in range(count):
                if time.monotonic() > deadline:
                    break
                client.sendmail("alice@signer.example", ["test1@bench.test"], message)
                sent[index] += 1
            client.quit()
        except Exception as error:  # reported below; the count shows what was accepted
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
    print(f"RESULT mail_auth_send msgs={sum(sent)} secs={time.monotonic() - started:.3f}")
    sys.exit(0 if sum(sent) == msgs else 1)


if __name__ == "__main__":
    if sys.argv[1] == "prepare":
        prepare(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "send":
        send(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit(__doc__)
