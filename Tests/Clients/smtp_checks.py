#!/usr/bin/env python3
"""Drives Estafeta's SMTP MX listener with smtplib and with raw sockets (for what a polite client never
sends). Expects example.org with alice@example.org to exist. Prints one line per check; exits 1 on the
first failure.

usage: smtp_checks.py MX_PORT SUBMISSION_PORT CA_FILE SUBMISSIONS_PORT
alice@example.org's password must be "correct horse battery".
"""
import base64
import smtplib
import ssl
import sys
import time

from smtp_raw import HOST, Raw, check

MX, SUBMISSION = int(sys.argv[1]), int(sys.argv[2])
TLS = ssl.create_default_context(cafile=sys.argv[3])
SUBMISSIONS = int(sys.argv[4])
PASSWORD = "correct horse battery"


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

# Smuggling. The bare-LF 'end' is content; the only reply comes after the real end.
raw.send(b"MAIL FROM:<s@b.test>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n")
[raw.reply() for _ in range(3)]
raw.send(b"Subject: smuggle\r\n\r\nx\n.\nMAIL FROM:<evil@b.test>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\nsmuggled\r\n.\r\n")
check("bare-LF end of data is not an end; message refused 550 5.5.2 after the real end",
      raw.reply().startswith("550 5.5.2"))
raw.send(b"NOOP\r\n")
check("session in sync after the smuggling attempt (no extra replies)", raw.reply().startswith("250 2.0.0"))
raw.send(b"QUIT\r\n")
check("QUIT: 221", raw.reply().startswith("221"))

# DATA without recipients, with the body pipelined behind it.
raw = Raw(MX)
raw.hello()
raw.send(b"DATA\r\nSubject: x\r\n\r\nRCPT TO:<alice@example.org>\r\n.\r\n")
check("rejected DATA with pipelined content: 554 5.5.0 and close",
      raw.reply().startswith("554 5.5.0") and raw.closed())

# Submission: AUTH only over TLS, then relaying for the authenticated user.
submission = Raw(SUBMISSION)
submission.reply()
submission.send(b"EHLO client.test\r\n")
features = submission.reply()
check("submission before TLS offers STARTTLS but not AUTH", "STARTTLS" in features and "AUTH" not in features, features)
submission.send(b"AUTH PLAIN " + base64.b64encode(b"\0alice@example.org\0" + PASSWORD.encode()) + b"\r\n")
check("AUTH before TLS: 538 5.7.11", submission.reply().startswith("538 5.7.11"))
submission.send(b"MAIL FROM:<alice@example.org>\r\n")
check("MAIL without authentication: 530 5.7.0", submission.reply().startswith("530 5.7.0"))

def submission_client():
    client = smtplib.SMTP(HOST, SUBMISSION, timeout=10)
    client.starttls(context=TLS)
    client.ehlo("client.test")
    return client


# smtplib's login() tries PLAIN and then LOGIN: two failures per wrong login, and a connection is
# closed at its third failure, so each refusal gets its own connection.
client = submission_client()
check("AUTH PLAIN LOGIN offered after STARTTLS", "PLAIN" in client.esmtp_features.get("auth", "").upper())
try:
    client.login("alice@example.org", "wrong password")
    check("wrong password refused", False, "accepted")
except smtplib.SMTPAuthenticationError as error:
    check("wrong password: 535 5.7.8", error.smtp_code == 535 and error.smtp_error.startswith(b"5.7.8"), error)
client.close()
client = submission_client()
try:
    client.login("nobody@example.org", PASSWORD)
    check("unknown user refused", False, "accepted")
except smtplib.SMTPAuthenticationError as error:
    check("unknown user: the same 535 5.7.8", error.smtp_code == 535 and error.smtp_error.startswith(b"5.7.8"), error)
code, text = client.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0nobody@example.org\0x").decode())
check("third failure on one connection: 421 4.7.0 and close", code == 421 and text.startswith(b"4.7.0"), (code, text))
client.close()
client = submission_client()
code, _ = client.login("alice@example.org", PASSWORD)
check("AUTH PLAIN with the right password: 235", code == 235)
code, text = client.docmd("AUTH", "PLAIN")
check("second AUTH: 503 5.5.1", code == 503, (code, text))
try:
    client.sendmail("bob@example.org", ["x@remote.example"], "Subject: x\r\n\r\nx\r\n")
    check("foreign envelope sender refused", False, "accepted")
except smtplib.SMTPSenderRefused as error:
    check("sender not owned: 553 5.7.1", error.smtp_code == 553, error)
refused = client.sendmail("alice@example.org", ["x@remote.example", "alice@example.org"], "Subject: out\r\n\r\nhello\r\n")
check("authenticated submission may relay to remote domains", refused == {}, refused)
client.quit()

# An account disabled through the admin API is refused at its next transaction (open session).
if len(sys.argv) > 6:
    from smtp_raw import admin_api

    def set_alice_enabled(enabled):
        return admin_api(sys.argv[5], sys.argv[6], "PATCH", "accounts/alice@example.org", {"enabled": enabled})[0]

    # Disabling alice bounces what is still queued for her: first let the worker deliver the messages
    # above (bounded), so that what this test counts does not depend on how fast it got to them.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        items = admin_api(sys.argv[5], sys.argv[6], "GET", "queue")[1].get("items", [])
        if not any(r["address"] == "alice@example.org" and r["state"] in ("queued", "delivering")
                   for item in items for r in item["recipients"]):
            break
        time.sleep(0.1)
    client = smtplib.SMTP(HOST, SUBMISSION, timeout=10)
    client.starttls(context=TLS)
    client.login("alice@example.org", PASSWORD)
    check("admin API disables alice", set_alice_enabled(False) == 200)
    code, text = client.docmd("MAIL", "FROM:<alice@example.org>")
    check("the open session of the disabled account is refused: 421 4.7.1", code == 421, (code, text))
    set_alice_enabled(True)

# Submissions (implicit TLS, RFC 8314) with AUTH LOGIN, and the malformed-AUTH rows.
raw = Raw(SUBMISSIONS)
raw.socket = TLS.wrap_socket(raw.socket, server_hostname="localhost")
raw.reader = raw.socket.makefile("rb")
check("submissions greets over TLS", raw.reply().startswith("220"))
raw.send(b"EHLO client.test\r\n")
check("submissions offers AUTH at once", "AUTH PLAIN LOGIN" in raw.reply())
raw.send(b"AUTH PLAIN !!!notbase64\r\n")
check("AUTH with bad base64: 501 5.5.2", raw.reply().startswith("501 5.5.2"))
raw.send(b"AUTH PLAIN\r\n")
check("AUTH PLAIN without initial response: empty 334 challenge", raw.reply().startswith("334"))
raw.send(b"*\r\n")
check("'*' cancels: 501", raw.reply().startswith("501"))
raw.send(b"AUTH PLAIN " + base64.b64encode(b"admin\0alice@example.org\0" + PASSWORD.encode()) + b"\r\n")
check("authzid differing from authcid: 535 5.7.8", raw.reply().startswith("535 5.7.8"))
raw.send(b"AUTH PLAIN " + b"A" * 20_000 + b"\r\n")
check("AUTH line of 20,000 octets: 500 5.5.6", raw.reply().startswith("500 5.5.6"))
raw.send(b"AUTH PLAIN\r\n")
raw.reply()
raw.send(b"A" * 20_000 + b"\r\n")
check("AUTH response of 20,000 octets after 334: 500 5.5.6", raw.reply().startswith("500 5.5.6"))
raw.send(b"AUTH CRAM-MD5\r\n")
check("unknown mechanism: 504 5.5.4", raw.reply().startswith("504 5.5.4"))
raw.send(b"AUTH LOGIN\r\n")
check("AUTH LOGIN asks for the user name", raw.reply() == "334 VXNlcm5hbWU6")
raw.send(base64.b64encode(b"alice@example.org") + b"\r\n")
check("then for the password", raw.reply() == "334 UGFzc3dvcmQ6")
raw.send(base64.b64encode(PASSWORD.encode()) + b"\r\n")
check("AUTH LOGIN succeeds: 235 2.7.0", raw.reply().startswith("235 2.7.0"))
raw.send(b"QUIT\r\n")
raw.reply()

# RFC 4954 §4: responses of 12,288 octets must be taken, in the AUTH line and after a 334. These are
# wrong passwords of the right length: 535, not a length error.
long_plain = base64.b64encode(b"\0alice@example.org\0" + b"p" * (9216 - 19))
check("a PLAIN response of exactly 12,288 octets", len(long_plain) == 12_288, len(long_plain))
raw = Raw(SUBMISSIONS)
raw.socket = TLS.wrap_socket(raw.socket, server_hostname="localhost")
raw.reader = raw.socket.makefile("rb")
raw.hello()
raw.send(b"AUTH PLAIN " + long_plain + b"\r\n")
answer = raw.reply()
check("AUTH PLAIN with a 12,288-octet initial response is read (535, not 500)", answer.startswith("535 5.7.8"), answer)
raw.send(b"AUTH PLAIN\r\n")
raw.reply()
raw.send(long_plain + b"\r\n")
check("a 12,288-octet response after 334 is read (535, not 500)", raw.reply().startswith("535 5.7.8"))
raw.send(b"QUIT\r\n")
raw.reply()

# RFC 3030 BDAT.
raw = Raw(MX)
raw.reply()
raw.send(b"EHLO client.test\r\n")
check("EHLO offers CHUNKING", "CHUNKING" in raw.reply())
raw.send(b"BDAT 10\r\n0123456789")
check("BDAT without MAIL: 503 5.5.1, chunk consumed", raw.reply().startswith("503 5.5.1"))
raw.send(b"NOOP\r\n")
check("session in sync after the refused chunk", raw.reply().startswith("250"))
raw.send(b"BDAT 18446744073709551616\r\n")
check("BDAT size overflow: 501", raw.reply().startswith("501"))
raw.send(b"MAIL FROM:<c@b.test>\r\nRCPT TO:<alice@example.org>\r\n")
raw.reply(); raw.reply()
first = b"Subject: chunked\r\n\r\n"
second = b"body line\r\n.not a terminator\r\n"
raw.send(b"BDAT %d\r\n" % len(first) + first)
check("first chunk: 250", raw.reply().startswith("250"))
raw.send(b"DATA\r\n")
check("DATA after BDAT: 503", raw.reply().startswith("503"))
raw.send(b"BDAT %d LAST\r\n" % len(second) + second)
check("last chunk: 250 queued", raw.reply().startswith("250 2.0.0 Ok: queued as"))
raw.send(b"QUIT\r\n")
raw.reply()

# AUTH is not offered on the MX port.
raw = Raw(MX)
raw.reply()
raw.send(b"EHLO client.test\r\nAUTH PLAIN AGFAYgBj\r\n")
raw.reply()
check("AUTH on the MX port: 503", raw.reply().startswith("503"))

# STARTTLS (RFC 3207) with smtplib, verifying the server certificate.
client = smtplib.SMTP(HOST, MX, timeout=10)
client.ehlo("client.test")
check("EHLO offers STARTTLS before TLS", client.has_extn("starttls"))
code, _ = client.starttls(context=TLS)
check("STARTTLS: 220 and a verified handshake", code == 220)
client.ehlo("client.test")
check("after STARTTLS, EHLO no longer offers STARTTLS", not client.has_extn("starttls"))
refused = client.sendmail("bob@remote.test", ["alice@example.org"], "Subject: over TLS\r\n\r\nsecret\r\n")
check("mail over STARTTLS is accepted", refused == {}, refused)
code, text = client.docmd("STARTTLS")
check("STARTTLS inside TLS: 503 5.5.1", code == 503, (code, text))
client.quit()

# CVE-2011-0411: a command pipelined behind STARTTLS in plaintext must never run inside TLS.
raw = Raw(MX)
raw.hello()
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

# STARTTLS with an argument.
raw = Raw(MX)
raw.reply()
raw.send(b"EHLO client.test\r\nSTARTTLS now\r\n")
raw.reply()
check("STARTTLS with an argument: 501", raw.reply().startswith("501"))
print("all checks passed")
