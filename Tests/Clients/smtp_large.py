#!/usr/bin/env python3
"""Large messages over SMTP, as clients send them: DATA through smtplib and BDAT chunks through a raw
client, read back whole over IMAP and POP3; a header section over the limit and a message over the
size limit refused after their content, the session going on; and a client cut off mid-DATA by a
kill -9 of the server, after which no part of its message is anywhere.

usage: smtp_large.py send SMTP_PORT IMAPS_PORT POP3S_PORT CA_FILE DB_PATH SERVER_PID
       smtp_large.py after-kill SMTP_PORT IMAPS_PORT POP3S_PORT CA_FILE DB_PATH
The suite runs with --smtp-max-message-bytes 4000000; alice@example.org / "correct horse battery"
exists with an empty INBOX. `send` ends by killing the server (SIGKILL) while a DATA is under way;
`after-kill` runs on the restarted suite. Prints "ok <check>" per check and "all checks passed".
"""
import imaplib
import os
import poplib
import random
import re
import signal
import smtplib
import socket
import sqlite3
import ssl
import sys
import time

from smtp_raw import HOST, Raw, check

mode = sys.argv[1]
smtp_port, imaps_port, pop3s_port, ca_file, db_path = (int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5],
                                                       sys.argv[6])
USER, PASSWORD = "alice@example.org", "correct horse battery"
context = ssl.create_default_context(cafile=ca_file)
context.check_hostname = False


def body(size, seed):
    """Printable lines of varied length, some starting with dots (stuffed on the wire, not in the store)."""
    rng = random.Random(seed)
    lines, total = [], 0
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/ "
    while total < size:
        line = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 76)))
        if rng.random() < 0.02:
            line = "." + line
        if rng.random() < 0.005:
            line = ".."
        lines.append(line.encode() + b"\r\n")
        total += len(lines[-1])
    return b"".join(lines)


def message(subject, size, seed, header_extra=b""):
    return (f"From: bob@remote.test\r\nTo: {USER}\r\nSubject: {subject}\r\n".encode() + header_extra + b"\r\n"
            + body(size, seed))


def database():
    return sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=15)


def uploads():
    """Contents still arriving (or abandoned), and the pieces of all contents."""
    with database() as db:
        return (db.execute("SELECT count(*), coalesce(sum(size), 0) FROM messageBlob WHERE layout = 'upload'").fetchone(),
                db.execute("SELECT count(*) FROM messageBlob WHERE layout = 'chunks'").fetchone()[0])


def inbox_messages(expected, timeout=60):
    """The INBOX's messages over IMAP once `expected` have been delivered."""
    imap = imaplib.IMAP4_SSL(HOST, imaps_port, ssl_context=context, timeout=60)
    imap.login(USER, PASSWORD)
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        count = int(imap.select("INBOX")[1][0])
        if count >= expected:
            break
        time.sleep(0.3)
    check(f"{expected} messages delivered to the INBOX", count == expected, count)
    contents = []
    for number in range(1, count + 1):
        typ, data = imap.fetch(str(number), "(BODY.PEEK[])")
        check(f"IMAP FETCH BODY[] of message {number}", typ == "OK", typ)
        contents.append(data[0][1])
    imap.logout()
    return contents


first = message("large by DATA", 3_000_000, 1)
second = message("large by BDAT", 2_500_000, 2)

if mode == "send":
    client = smtplib.SMTP(HOST, smtp_port, timeout=60)
    client.ehlo("client.test")
    client.sendmail("bob@remote.test", [USER], first)
    print("ok a 3 MB message by DATA (smtplib): 250")

    raw = Raw(smtp_port)
    raw.reply()
    raw.send(b"EHLO client.test\r\n")
    check("CHUNKING offered", "CHUNKING" in raw.reply())
    raw.send(b"MAIL FROM:<bob@remote.test>\r\nRCPT TO:<alice@example.org>\r\n")
    check("MAIL and RCPT", raw.reply().startswith("250") and raw.reply().startswith("250"))
    cuts = [0, 1_500_000, 2_400_000, len(second)]
    for index in range(3):
        chunk = second[cuts[index]:cuts[index + 1]]
        last = b" LAST" if index == 2 else b""
        raw.send(b"BDAT %d%s\r\n" % (len(chunk), last) + chunk)
        answer = raw.reply()
        check(f"BDAT chunk {index + 1} of {len(chunk)} octets: 250", answer.startswith("250"), answer)

    # A header section over the 256 KiB default: refused after the data, and the session goes on.
    filler_lines = [b"X-Filler-%05d: %s\r\n" % (n, b"f" * 60) for n in range(3_900)]
    filler = b"".join(filler_lines)
    try:
        client.sendmail("bob@remote.test", [USER], message("huge header", 1_000, 3, filler))
        check("a 300 KB header section is refused", False, "accepted")
    except smtplib.SMTPDataError as error:
        check("a 300 KB header section gets 552 5.3.4", error.smtp_code == 552 and b"5.3.4" in error.smtp_error,
              error)
    # Just under the limit is fine (so the refusal above is the header limit, not the size).
    client.sendmail("bob@remote.test", [USER], message("big header", 1_000, 4, b"".join(filler_lines[:3_100])))
    print("ok a header section of 250 KB is accepted")
    # Without SIZE on MAIL (smtplib's sendmail would announce it and be refused at once): the content
    # streams until it passes the limit, then is read and dropped.
    client.mail("bob@remote.test")
    client.rcpt(USER)
    code, text = client.data(message("too big", 5_000_000, 5))
    check("a 5 MB message over the 4 MB limit gets 552 5.3.4 after its data", code == 552 and b"5.3.4" in text,
          (code, text))
    check("the session goes on", client.noop()[0] == 250)
    client.quit()

    (count, _), chunked = uploads()
    check("the refused messages' pieces are gone from the store", count == 0, count)
    check("the large messages were stored in pieces (streamed, not held whole)", chunked >= 2, chunked)

    contents = inbox_messages(3)
    by_data = [content for content in contents if content.endswith(first)]
    check("the DATA message reads back whole over IMAP (dot-stuffing undone)", len(by_data) == 1,
          [len(content) for content in contents])
    by_bdat = [number for number, content in enumerate(contents, 1) if content.endswith(second)]
    check("the BDAT message reads back whole over IMAP", len(by_bdat) == 1, [len(content) for content in contents])
    check("Received: in front of the streamed content", by_data[0].startswith(b"Return-Path:")
          and b"\r\nReceived: from client.test" in by_data[0][:2000], by_data[0][:300])
    # Partials and other items of a large message over IMAP: streamed where they are the whole message.
    imap = imaplib.IMAP4_SSL(HOST, imaps_port, ssl_context=context, timeout=60)
    imap.login(USER, PASSWORD)
    imap.select("INBOX")
    whole = contents[by_bdat[0] - 1]
    typ, data = imap.fetch(str(by_bdat[0]), "(UID RFC822.SIZE BODY.PEEK[]<1000000.300000>)")
    check("FETCH BODY.PEEK[]<1000000.300000> of it: those octets", typ == "OK" and data[0][1] == whole[1000000:1300000]
          and b"RFC822.SIZE %d" % len(whole) in data[0][0], data[0][0])
    typ, data = imap.fetch(str(by_bdat[0]), "(BODY.PEEK[]<2400000.900000>)")
    check("... a partial past the end: what there is", typ == "OK" and data[0][1] == whole[2400000:], data[0][0])
    typ, data = imap.fetch(
        str(by_bdat[0]), "(ENVELOPE BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT]<100.1000> RFC822.SIZE BODY.PEEK[])")
    literals = [item[1] for item in data if isinstance(item, tuple)]
    heads = b"".join(item[0] for item in data if isinstance(item, tuple))
    text_start = whole.index(b"\r\n\r\n") + 4
    check("ENVELOPE, a header field, a TEXT partial and BODY[] of it in one FETCH (streamed)",
          typ == "OK" and literals == [b"Subject: large by BDAT\r\n\r\n", whole[text_start + 100:text_start + 1100], whole]
          and b"large by BDAT" in heads and b"BODY[TEXT]<100> {1000}" in heads, (heads, [len(item) for item in literals]))
    typ, data = imap.fetch(str(by_bdat[0]), "(BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    check("BODYSTRUCTURE and a header field of it", typ == "OK" and b"large by BDAT" in data[0][1], data[0][0])
    typ, data = imap.fetch(str(by_bdat[0]), "(RFC822)")
    typ, flags = imap.fetch(str(by_bdat[0]), "(FLAGS)")
    check("FETCH RFC822 of it: whole, and \\Seen set", typ == "OK" and data[0][1] == whole and b"\\Seen" in flags[0],
          (data[0][0], flags))
    imap.logout()
    pop = poplib.POP3_SSL(HOST, pop3s_port, context=context, timeout=60)
    pop.user(USER)
    pop.pass_(PASSWORD)
    _, lines, _ = pop.retr(by_bdat[0])
    check("the BDAT message reads back whole over POP3", b"\r\n".join(lines) + b"\r\n" == contents[by_bdat[0] - 1],
          len(lines))
    top_header, top_body = contents[by_bdat[0] - 1].split(b"\r\n\r\n", 1)
    _, lines, _ = pop.top(by_bdat[0], 3)
    check("POP3 TOP 3 of it: the header, the empty line and 3 body lines",
          lines == top_header.split(b"\r\n") + [b""] + top_body.split(b"\r\n")[:3], lines[-4:])
    pop.quit()

    # IMAP APPEND of a 3 MB literal with bare LF line ends: written to the store as it arrives, line
    # ends made CRLF on the way; a client that goes away in the middle of its literal leaves nothing.
    appended_body = body(3_000_000, 8).replace(b"\r\n", b"\n")
    appended = b"From: carol@example.org\r\nSubject: large by APPEND\r\n\r\n" + appended_body
    expected = appended.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    chunked_before = uploads()[1]
    imap = imaplib.IMAP4_SSL(HOST, imaps_port, ssl_context=context, timeout=60)
    imap.login(USER, PASSWORD)
    typ, data = imap.append("INBOX", "(\\Flagged)", None, appended)
    check("APPEND of a 3 MB literal: OK with APPENDUID", typ == "OK" and b"APPENDUID" in data[0], data)
    uid = data[0].split(b"APPENDUID ")[1].split(b" ")[1].rstrip(b"]")
    imap.select("INBOX")
    typ, data = imap.uid("FETCH", uid, "(RFC822.SIZE FLAGS BODY.PEEK[] BODY.PEEK[HEADER])")
    check("... it reads back with CRLF line ends, the size of what is sent, its flag and its header",
          typ == "OK" and data[0][1] == expected and b"RFC822.SIZE %d" % len(expected) in data[0][0]
          and b"\\Flagged" in data[0][0] and data[1][1] == b"From: carol@example.org\r\nSubject: large by APPEND\r\n\r\n",
          (data[0][0], len(data[0][1]), len(expected)))
    imap.logout()
    check("... and it was stored in pieces as it came", uploads()[1] == chunked_before + 1, (chunked_before, uploads()))
    cut = socket.create_connection((HOST, imaps_port), timeout=60)
    cut = context.wrap_socket(cut, server_hostname="localhost")
    cut_reader = cut.makefile("rb")
    cut_reader.readline()
    cut.sendall(b"a LOGIN alice@example.org \"correct horse battery\"\r\n")
    check("a raw IMAP client logs in", cut_reader.readline().startswith(b"a OK"))
    cut.sendall(b"b APPEND INBOX {3000000}\r\n")
    check("... announces a 3 MB literal: +", cut_reader.readline().startswith(b"+"))
    cut.sendall(b"Subject: never finished\r\n\r\n" + b"x" * 1_500_000)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and uploads()[0][1] < 1_000_000:
        time.sleep(0.1)
    check("... whose first megabyte is being written to the store", uploads()[0][1] >= 1_000_000, uploads())
    cut_reader.close()  # the socket closes only once its file is closed too
    cut.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and uploads()[0][0] > 0:
        time.sleep(0.1)
    check("... and then goes away: the upload is discarded", uploads()[0][0] == 0, uploads())

    # A client cut off mid-DATA: its content is in the store as an upload (the session holds only a
    # piece), then the server is killed before the end of data.
    partial = Raw(smtp_port)
    partial.reply()
    partial.send(b"EHLO client.test\r\nMAIL FROM:<partial@remote.test>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n")
    answers = [partial.reply() for _ in range(4)]
    check("in DATA", answers[3].startswith("354"), answers)
    # Dot-stuffed as RFC 5321 §4.5.2 asks (smtplib does it for the others): a lone "." would end it.
    partial.send(re.sub(rb"(?m)^\.", b"..", message("never finished", 2_000_000, 6)))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and uploads()[0][1] < 1_000_000:
        time.sleep(0.1)
    check("the unfinished message is being written to the store", uploads()[0][1] >= 1_000_000, uploads())
    os.kill(int(sys.argv[7]), signal.SIGKILL)
    print("all checks passed")

elif mode == "after-kill":
    contents = inbox_messages(4, timeout=5)
    check("no part of the unfinished message reached the INBOX",
          all(b"never finished" not in content for content in contents))
    with database() as db:
        queued = db.execute("SELECT count(*) FROM queueMessage WHERE sender = 'partial@remote.test'").fetchone()[0]
    check("nor the queue", queued == 0, queued)
    (count, _), _ = uploads()
    check("its pieces are an upload no message refers to (the purge deletes it)", count == 1, count)
    client = smtplib.SMTP(HOST, smtp_port, timeout=60)
    client.sendmail("bob@remote.test", [USER], message("after the restart", 400_000, 7))
    client.quit()
    print("ok the restarted server accepts large mail")
    print("all checks passed")
