#!/usr/bin/env python3
"""The SMTP limits and abuse rows of the reliability catalogue, against a suite started with small
limits: --smtp-greeting-delay-ms 300 --limits-idle-timeout-seconds 2 --smtp-min-data-rate 2000
--smtp-max-message-bytes 100000 --smtp-max-errors 10 --auth-lockout-failures 4
--smtp-auth-failure-delay-ms 50 --limits-max-connections-per-address 5.
Expects example.org with alice@example.org ("correct horse battery"). One line per check; exit 1 at
the first failure.

usage: smtp_limits.py MX_PORT SUBMISSION_PORT CA_FILE SUBMISSIONS_PORT
"""
import base64
import select
import smtplib
import socket
import ssl
import sys
import time

from smtp_raw import HOST, Raw, check

MX, SUBMISSION = int(sys.argv[1]), int(sys.argv[2])
TLS = ssl.create_default_context(cafile=sys.argv[3])
SUBMISSIONS = int(sys.argv[4])
PASSWORD = "correct horse battery"


# Connections per client address (5 here); another address is not affected.
held = [Raw(MX) for _ in range(5)]
for connection in held:
    connection.reply()
extra = Raw(MX)
answer = extra.reply()
check("sixth connection from one address: 421 4.7.0", answer.startswith("421 4.7.0"), answer)
other = Raw(MX, source="127.0.0.5")
answer = other.reply()
check("another address still gets 220", answer.startswith("220"), answer)
for connection in held + [extra, other]:
    connection.close()
time.sleep(0.3)

# A client that talks before the greeting (the MX waits 300 ms here) is refused.
early = Raw(MX)
early.send(b"EHLO early.test\r\n")
answer = early.reply()
check("client talking before the greeting: 554 5.5.1 and close", answer.startswith("554 5.5.1") and early.closed(), answer)

# The null reverse-path (bounces) is accepted; a polite client waits for the greeting.
client = smtplib.SMTP(HOST, MX, timeout=15)
refused = client.sendmail("", ["alice@example.org"], "Subject: bounce\r\n\r\nbounced\r\n")
check("MAIL FROM:<> accepted after the delayed greeting", refused == {}, refused)
client.quit()

# 100 recipients must be taken; the 101st gets 452 4.5.3; 10,001 do not break anything.
raw = Raw(MX)
raw.hello()
raw.send(b"MAIL FROM:<many@remote.test>\r\n" + b"RCPT TO:<alice@example.org>\r\n" * 101)
answers = [raw.reply() for _ in range(102)]
check("101 RCPTs: 100 accepted, the 101st 452 4.5.3",
      all(a.startswith("250") for a in answers[:101]) and answers[101].startswith("452 4.5.3"), answers[99:])
raw.send(b"DATA\r\n")
raw.reply()
raw.send(b"Subject: to many\r\n\r\nhello\r\n.\r\n")
check("the message to 100 recipients is queued", raw.reply().startswith("250 2.0.0"))
raw.send(b"MAIL FROM:<many@remote.test>\r\n")
raw.reply()
accepted = refused_452 = other_answers = 0
for batch in range(21):
    count = 500 if batch < 20 else 1
    raw.send(b"RCPT TO:<alice@example.org>\r\n" * count)
    for _ in range(count):
        answer = raw.reply()
        if answer.startswith("250"):
            accepted += 1
        elif answer.startswith("452 4.5.3"):
            refused_452 += 1
        else:
            other_answers += 1
check("10,001 RCPTs: exactly 100 accepted, the rest 452 4.5.3",
      (accepted, refused_452, other_answers) == (100, 9901, 0), (accepted, refused_452, other_answers))
raw.send(b"RSET\r\nNOOP\r\n")
check("session healthy after 10,001 RCPTs", raw.reply().startswith("250") and raw.reply().startswith("250"))
raw.close()

# Errors and junk commands.
raw = Raw(MX)
raw.hello()
raw.send(b"XYZZY\r\n" * 12)
answers = [raw.reply() for _ in range(11)]
check("10 bad commands answered 500, the 11th 421 4.7.0 too many errors",
      all(a.startswith("500") for a in answers[:10]) and answers[10].startswith("421 4.7.0") and raw.closed(),
      answers[9:])
raw = Raw(MX)
raw.hello()
raw.send(b"NOOP\r\n" * 120)
answers = [raw.reply() for _ in range(111)]
check("110 NOOPs answered 250, the 111th 421 4.7.0 (100 junk commands, then 10 errors)",
      all(a.startswith("250") for a in answers[:110]) and answers[110].startswith("421 4.7.0"), answers[108:])

# A message over the size limit is read to its end, refused 552 5.3.4, nothing queued.
raw = Raw(MX)
raw.hello()
raw.send(b"MAIL FROM:<big@remote.test>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n")
[raw.reply() for _ in range(3)]
raw.send(b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 150 + b".\r\n")
answer = raw.reply()
check("150 KB over a 100 KB limit: 552 5.3.4 after the end of data", answer.startswith("552 5.3.4"), answer)
raw.send(b"NOOP\r\n")
check("session in sync after the refused message", raw.reply().startswith("250"))

# M14: content of exactly the limit (100,000 octets, counted after dot-unstuffing, through the CRLF
# before the final dot) is taken; one octet more is refused.
def sized(total):
    header = b"Subject: m14\r\n\r\n"
    lines, rest = divmod(total - len(header) - 2, 100)  # 100-octet lines, then a last line of `rest` + CRLF
    return header + (b"." + b"x" * 97 + b"\r\n") * lines + b"y" * rest + b"\r\n"  # lines start with a dot


for size, expected, name in ((100_000, "250", "exactly the limit: accepted (M14)"),
                             (100_001, "552 5.3.4", "one octet over: 552 5.3.4 (M14)")):
    content = sized(size)  # as the server counts it; its dot-leading lines are stuffed on the wire
    assert len(content) == size, len(content)
    raw.send(b"MAIL FROM:<edge@remote.test>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n")
    [raw.reply() for _ in range(3)]
    raw.send(content.replace(b"\r\n.", b"\r\n..") + b".\r\n")
    answer = raw.reply()
    check(name, answer.startswith(expected), answer)

# BDAT over the size limit: the chunk is consumed, then 552 5.3.4.
raw.send(b"MAIL FROM:<big@remote.test>\r\nRCPT TO:<alice@example.org>\r\n")
raw.reply(); raw.reply()
chunk = b"Subject: big chunk\r\n\r\n" + (b"y" * 998 + b"\r\n") * 150
raw.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
answer = raw.reply()
check("BDAT LAST over the limit: 552 5.3.4", answer.startswith("552 5.3.4"), answer)
raw.send(b"NOOP\r\n")
check("session in sync after the refused chunk", raw.reply().startswith("250"))

# A mail loop.
raw.send(b"MAIL FROM:<loop@remote.test>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n")
[raw.reply() for _ in range(3)]
raw.send(b"".join(b"Received: from hop%d.test by hop%d.test; Thu, 26 Nov 2026 10:00:00 +0000\r\n" % (i, i + 1)
                  for i in range(60)) + b"Subject: loop\r\n\r\nround and round\r\n.\r\n")
answer = raw.reply()
check("60 Received: headers: 554 5.4.6", answer.startswith("554 5.4.6"), answer)
raw.close()

# Content trickling in below the minimum rate (2,000 octets/s after a 2 s grace) is cut off.
raw = Raw(MX)
raw.hello()
raw.send(b"MAIL FROM:<slow@remote.test>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n")
[raw.reply() for _ in range(3)]
started = time.monotonic()
answer = ""
for _ in range(30):  # at most 15 s
    try:
        raw.send(b"x")
    except OSError:
        break
    readable, _, _ = select.select([raw.socket], [], [], 0.5)
    if readable:
        answer = raw.reply()
        break
elapsed = time.monotonic() - started
check("slow DATA: 421 4.4.2 after about the grace period, no 250",
      answer.startswith("421 4.4.2") and 1.5 < elapsed < 6, (answer, elapsed))
raw.close()

# The From: header must belong to the authenticated account too.
client = smtplib.SMTP(HOST, SUBMISSION, timeout=15)
client.starttls(context=TLS)
client.login("alice@example.org", PASSWORD)
try:
    client.sendmail("alice@example.org", ["x@remote.example"], "From: Bob <bob@example.org>\r\nSubject: x\r\n\r\nx\r\n")
    check("foreign From: refused", False, "accepted")
except smtplib.SMTPDataError as error:
    check("From: of another user: 550 5.7.1", error.smtp_code == 550 and error.smtp_error.startswith(b"5.7.1"), error)
refused = client.sendmail("alice@example.org", ["x@remote.example"],
                          "From: \"Alice (really)\" <alice@example.org>\r\nSubject: mine\r\n\r\nx\r\n")
check("From: of the account itself is accepted", refused == {}, refused)
client.quit()

# A megabyte without a line end is discarded as it comes (bounded memory); the session then
# ends at the idle timeout (2 s here) if nothing else arrives.
raw = Raw(MX)
raw.hello()
raw.send(b"NOOP " + b"z" * 1_000_000)
started = time.monotonic()
answer = raw.reply()
check("1 MB without CRLF: no reply until the idle timeout closes it",
      answer.startswith("421 4.4.2") and time.monotonic() - started < 6, answer)
raw.close()

# Garbage instead of a TLS handshake after "220 Ready to start TLS": the connection closes and
# no plaintext command is ever answered.
raw = Raw(MX)
raw.hello()
raw.send(b"STARTTLS\r\n")
check("STARTTLS: 220", raw.reply().startswith("220"))
raw.send(b"EHLO plaintext.test\r\nMAIL FROM:<a@b.test>\r\n")
rest = b""
try:
    while len(rest) < 10_000:
        chunk = raw.socket.recv(4096)
        if not chunk:
            break
        rest += chunk
except (ConnectionResetError, socket.timeout):
    pass
check("garbage handshake: closed, nothing answered in plaintext", b"250" not in rest, rest[:200])
raw.close()

# Wrong passwords from one network: growing delays, 421 at the third on a connection, lockout at
# the fourth; a correct password from another address still works.
wrong = b"AUTH PLAIN " + base64.b64encode(b"\0alice@example.org\0wrong") + b"\r\n"
right = b"AUTH PLAIN " + base64.b64encode(b"\0alice@example.org\0" + PASSWORD.encode()) + b"\r\n"
guesser = Raw(SUBMISSIONS, source="127.0.0.3", tls=TLS)
guesser.hello()
timings = []
answers = []
for _ in range(3):
    started = time.monotonic()
    guesser.send(wrong)
    answers.append(guesser.reply())
    timings.append(time.monotonic() - started)
check("wrong passwords: 535, 535, then 421 4.7.0 and close",
      answers[0].startswith("535 5.7.8") and answers[1].startswith("535 5.7.8") and answers[2].startswith("421 4.7.0")
      and guesser.closed(), answers)
check("each failure waits longer (50, 100, 200 ms)", timings[0] >= 0.04 and timings[2] >= 0.18 and timings[2] > timings[0],
      timings)
guesser = Raw(SUBMISSIONS, source="127.0.0.3", tls=TLS)
guesser.hello()
guesser.send(wrong)
answer = guesser.reply()
check("fourth failure from the network: 535", answer.startswith("535 5.7.8"), answer)
guesser.send(right)
answer = guesser.reply()
check("then even the right password is refused: 421 4.7.0 locked out", answer.startswith("421 4.7.0"), answer)
bystander = Raw(SUBMISSIONS, source="127.0.0.4", tls=TLS)
bystander.hello()
bystander.send(right)
answer = bystander.reply()
check("the right password from another address: 235", answer.startswith("235"), answer)
print("all checks passed")
