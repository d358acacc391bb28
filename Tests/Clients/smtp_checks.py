#!/usr/bin/env python3
"""Drives Estafeta's SMTP MX listener with smtplib and with raw sockets (for what a polite client never
sends). Expects example.org with alice@example.org to exist. Prints one line per check; exits 1 on the
first failure.

usage: smtp_checks.py MX_PORT SUBMISSION_PORT CA_FILE
"""
import smtplib
import socket
import ssl
import sys

HOST = "127.0.0.1"
MX, SUBMISSION = int(sys.argv[1]), int(sys.argv[2])
TLS = ssl.create_default_context(cafile=sys.argv[3])


def check(name, condition, detail=""):
    if not condition:
        print(f"FAIL {name}: {detail}")
        sys.exit(1)
    print(f"ok {name}")


class Raw:
    """A line-oriented raw client: send bytes exactly, read replies (multi-line aware)."""

    def __init__(self, port):
        self.socket = socket.create_connection((HOST, port), timeout=10)
        self.reader = self.socket.makefile("rb")

    def send(self, data):
        self.socket.sendall(data)

    def reply(self):
        lines = []
        while True:
            line = self.reader.readline()
            if not line:
                return "closed"
            lines.append(line.decode(errors="replace").rstrip("\r\n"))
            if len(line) < 4 or line[3:4] != b"-":
                return "\n".join(lines)

    def closed(self):
        try:
            return self.reader.readline() == b""
        except (ConnectionResetError, socket.timeout):
            return True


# smtplib: the ordinary client.
client = smtplib.SMTP(HOST, MX, timeout=10)
code, features = client.ehlo("client.test")
check("EHLO advertises PIPELINING, SIZE, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES",
      code == 250 and all(client.has_extn(x) for x in ["pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes"]),
      features)
refused = client.sendmail("bob@remote.test", ["alice@example.org"], "Subject: hello\r\n\r\n.leading dot\r\n")
check("mail to a local account is accepted", refused == {}, refused)
try:
    client.sendmail("bob@remote.test", ["nobody@example.org"], "Subject: x\r\n\r\nx\r\n")
    check("unknown local user is refused at RCPT", False, "accepted")
except smtplib.SMTPRecipientsRefused as error:
    code, text = error.recipients["nobody@example.org"]
    check("unknown local user is refused at RCPT with 550 5.1.1", code == 550 and text.startswith(b"5.1.1"), error.recipients)
try:
    client.sendmail("bob@remote.test", ["x@elsewhere.test"], "Subject: x\r\n\r\nx\r\n")
    check("no open relay", False, "relayed")
except smtplib.SMTPRecipientsRefused as error:
    code, text = error.recipients["x@elsewhere.test"]
    check("no open relay: 554 5.7.1 for a foreign domain", code == 554 and text.startswith(b"5.7.1"), error.recipients)
code, text = client.verify("alice")
check("VRFY never discloses accounts (252)", code == 252, (code, text))
client.quit()

# Order of commands.
raw = Raw(MX)
raw.reply()
raw.send(b"MAIL FROM:<a@b.test>\r\n")
check("MAIL before EHLO: 503 5.5.1", raw.reply().startswith("503 5.5.1"))
raw.send(b"EHLO client.test\r\n")
raw.reply()
raw.send(b"RCPT TO:<alice@example.org>\r\n")
check("RCPT before MAIL: 503 5.5.1", raw.reply().startswith("503 5.5.1"))
raw.send(b"MAIL FROM:<a@b.test> SIZE=999999999999\r\n")
check("declared SIZE over the limit: 552 5.3.4", raw.reply().startswith("552 5.3.4"))
raw.send(b"MAIL FROM:<a@b.test> FOO=bar\r\n")
check("unknown MAIL parameter: 555 5.5.4", raw.reply().startswith("555 5.5.4"))
raw.send(b"NOOP " + b"x" * 10_000 + b"\r\n")
check("10,000-octet line: 500 5.5.2", raw.reply().startswith("500 5.5.2"))
raw.send(b"NOOP\r\n")
check("session usable after the long line", raw.reply().startswith("250"))
raw.send(b"MAIL FROM:<a@b.test>\r\n")
raw.reply()
raw.send(b"MAIL FROM:<a@b.test>\r\n")
check("nested MAIL: 503 5.5.1", raw.reply().startswith("503 5.5.1"))

# RFC 2920 pipelining: MAIL, RCPT, DATA in one segment.
raw.send(b"RSET\r\nMAIL FROM:<p@b.test>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n")
replies = [raw.reply() for _ in range(4)]
check("pipelined RSET/MAIL/RCPT/DATA answered in order",
      [r[:3] for r in replies] == ["250", "250", "250", "354"], replies)
raw.send(b"Subject: pipelined\r\n\r\nbody\r\n.\r\n")
check("pipelined message accepted after its commit", raw.reply().startswith("250 2.0.0 Ok: queued as"))

# S04/S05: smuggling. The bare-LF 'end' is content; the only reply comes after the real end.
raw.send(b"MAIL FROM:<s@b.test>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n")
[raw.reply() for _ in range(3)]
raw.send(b"Subject: smuggle\r\n\r\nx\n.\nMAIL FROM:<evil@b.test>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\nsmuggled\r\n.\r\n")
check("bare-LF end of data is not an end; message refused 550 5.5.2 after the real end",
      raw.reply().startswith("550 5.5.2"))
raw.send(b"NOOP\r\n")
check("session in sync after the smuggling attempt (no extra replies)", raw.reply().startswith("250 2.0.0"))
raw.send(b"QUIT\r\n")
check("QUIT: 221", raw.reply().startswith("221"))

# S08: DATA without recipients, with the body pipelined behind it.
raw = Raw(MX)
raw.reply()
raw.send(b"EHLO client.test\r\n")
raw.reply()
raw.send(b"DATA\r\nSubject: x\r\n\r\nRCPT TO:<alice@example.org>\r\n.\r\n")
check("rejected DATA with pipelined content: 554 5.5.0 and close",
      raw.reply().startswith("554 5.5.0") and raw.closed())

# Submission without AUTH (AUTH arrives with a later increment): mail is refused.
submission = Raw(SUBMISSION)
submission.reply()
submission.send(b"EHLO client.test\r\nMAIL FROM:<alice@example.org>\r\n")
submission.reply()
check("submission refuses MAIL without authentication: 530 5.7.0", submission.reply().startswith("530 5.7.0"))
# STARTTLS (RFC 3207) with smtplib, verifying the server certificate.
client = smtplib.SMTP(HOST, MX, timeout=10)
client.ehlo("client.test")
check("EHLO offers STARTTLS before TLS", client.has_extn("starttls"))
code, _ = client.starttls(context=TLS)
check("STARTTLS: 220 and a verified handshake", code == 220)
client.ehlo("client.test")
check("after STARTTLS, EHLO no longer offers STARTTLS (S11)", not client.has_extn("starttls"))
refused = client.sendmail("bob@remote.test", ["alice@example.org"], "Subject: over TLS\r\n\r\nsecret\r\n")
check("mail over STARTTLS is accepted", refused == {}, refused)
code, text = client.docmd("STARTTLS")
check("STARTTLS inside TLS: 503 5.5.1 (S12)", code == 503, (code, text))
client.quit()

# S10 (CVE-2011-0411): a command pipelined behind STARTTLS in plaintext must never run inside TLS.
raw = Raw(MX)
raw.reply()
raw.send(b"EHLO client.test\r\n")
raw.reply()
raw.send(b"STARTTLS\r\nEHLO injected.test\r\n")
check("STARTTLS answered 220", raw.reply().startswith("220"))
secure = TLS.wrap_socket(raw.socket, server_hostname="localhost")
reader = secure.makefile("rb")
secure.sendall(b"MAIL FROM:<a@b.test>\r\n")
first = reader.readline().decode().rstrip()
check("the injected EHLO was discarded: MAIL inside TLS still needs EHLO (503)", first.startswith("503 5.5.1"), first)
secure.sendall(b"EHLO client.test\r\n")
lines = []
while True:
    line = reader.readline().decode().rstrip()
    lines.append(line)
    if line[3:4] != "-":
        break
check("EHLO inside TLS answered once, for the real EHLO", lines[0].startswith("250-") and "injected" not in lines[0], lines)
secure.close()

# S12: STARTTLS with an argument.
raw = Raw(MX)
raw.reply()
raw.send(b"EHLO client.test\r\nSTARTTLS now\r\n")
raw.reply()
check("STARTTLS with an argument: 501", raw.reply().startswith("501"))
print("all checks passed")
