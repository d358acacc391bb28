#!/usr/bin/env python3
"""The mail for the migration benchmark (bench/migration.sh).

  migration_data.py make DIR MSGS FOLDERS SIZE
      writes a Dovecot Maildir (Maildir++): INBOX and FOLDERS-1 folders, MSGS messages of about SIZE
      octets spread evenly, LF line ends as Dovecot stores them, flags in the file names (most seen, some
      flagged, answered or with a keyword from dovecot-keywords), each folder's dovecot-uidlist (version
      3, UIDs with gaps as expunges leave them), received times as file times, and a subscriptions file
  migration_data.py append PORT USER PASSWORD DIR
      copies that Maildir over IMAP as imapsync would: CREATE each folder, APPEND each message with its
      flags and received time, one connection; prints "RESULT msgs=N bytes=B secs=S"

Loopback only; every call has a timeout.
"""
import imaplib
import os
import ssl
import sys
import time

WORDS = "the quick brown fox jumps over a lazy dog while mail moves from one server to another".split()


def folder_names(count):
    return ["INBOX"] + ["Folder%02d" % i for i in range(1, count)]


def message(index, size):
    head = (
        "Return-Path: <sender%d@example.net>\n"
        "From: Sender %d <sender%d@example.net>\n"
        "To: Test User <test1@bench.test>\n"
        "Subject: Message %d of the migration benchmark\n"
        "Date: Mon, 03 Mar 2025 10:%02d:%02d +0000\n"
        "Message-ID: <%d.migration@example.net>\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n\n" % (index % 97, index % 97, index % 97, index, index % 60, index % 60, index)
    )
    lines, length, word = [], len(head), index
    while length < size:
        line = " ".join(WORDS[(word + k) % len(WORDS)] for k in range(11))
        word += 3
        lines.append(line)
        length += len(line) + 1
    return (head + "\n".join(lines) + "\n").encode()


def make(root, total, folders, size):
    names = folder_names(folders)
    base_time = 1_740_000_000
    number = 0
    for f, name in enumerate(names):
        directory = root if name == "INBOX" else os.path.join(root, "." + name)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(directory, sub), exist_ok=True)
        count = total // folders + (1 if f < total % folders else 0)
        records, uid = [], 0
        for i in range(count):
            number += 1
            uid += 1 if i % 10 else 2  # a gap now and then, as expunges leave
            stamp = base_time + number * 37
            flags = "S" if i % 10 < 7 else ""
            if i % 13 == 0:
                flags = "F" + flags
            if i % 17 == 0:
                flags = "RS" if "S" in flags else "R"
            letters = "a" if i % 11 == 0 else ""
            content = message(number, size)
            base = "%d.M%dP1.bench,S=%d" % (stamp, number, len(content))
            path = os.path.join(directory, "cur", "%s:2,%s%s" % (base, "".join(sorted(flags)), letters))
            with open(path, "wb") as out:
                out.write(content)
            os.utime(path, (stamp, stamp))
            records.append("%d :%s" % (uid, base))
        with open(os.path.join(directory, "dovecot-uidlist"), "w") as out:
            out.write("3 V%d N%d G%032x\n" % (1_700_000_000 + f, uid + 1, f + 1))
            out.write("\n".join(records) + ("\n" if records else ""))
        with open(os.path.join(directory, "dovecot-keywords"), "w") as out:
            out.write("0 $Label1\n")
    with open(os.path.join(root, "subscriptions"), "w") as out:
        out.write("V\t2\n\n" + "".join(name + "\n" for name in names[1:]))


def append(port, user, password, root):
    client = imaplib.IMAP4("127.0.0.1", int(port), timeout=60)
    if "STARTTLS" in client.capabilities:
        # The bench server's certificate is self-signed: encrypted, not verified.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        client.starttls(context)
    client.login(user, password)
    started = time.monotonic()
    count = octets = 0
    for entry in ["INBOX"] + sorted(e for e in os.listdir(root) if e.startswith(".") and e not in (".", "..")):
        name = "INBOX" if entry == "INBOX" else entry[1:]
        directory = root if entry == "INBOX" else os.path.join(root, entry)
        if name != "INBOX":
            client.create(name)
        for file in sorted(os.listdir(os.path.join(directory, "cur"))):
            path = os.path.join(directory, "cur", file)
            with open(path, "rb") as handle:
                content = handle.read().replace(b"\n", b"\r\n")
            letters = file.rsplit(":2,", 1)[1]
            flags = " ".join(flag for letter, flag in (("S", "\\Seen"), ("F", "\\Flagged"), ("R", "\\Answered"), ("a", "$Label1")) if letter in letters)
            date = imaplib.Time2Internaldate(os.stat(path).st_mtime)
            status, _ = client.append(name, "(" + flags + ")", date, content)
            if status != "OK":
                raise SystemExit("APPEND failed: %s" % status)
            count += 1
            octets += len(content)
    seconds = time.monotonic() - started
    client.logout()
    print("RESULT msgs=%d bytes=%d secs=%.2f" % (count, octets, seconds))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    elif sys.argv[1] == "append":
        append(*sys.argv[2:6])
    else:
        raise SystemExit(__doc__)
