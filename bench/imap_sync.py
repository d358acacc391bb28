#!/usr/bin/env python3
"""What a client does to open and resynchronise a large mailbox, timed against one IMAP server (run by
bench/imap_sync.sh against Estafeta and Dovecot in turn, each with the same messages):

  --write-mbox  the same messages as an mbox file, for `doveadm import` (Dovecot's maildir takes APPENDs to
                one mailbox ever more slowly past some 30,000 messages, which would time the filling, not the server).
  populate      N messages in threads of ten (Message-ID, In-Reply-To, References; "Re:" subjects; Date
                values out of arrival order) APPENDed to the user's INBOX, 200 per pipelined batch.
  select_last50 SELECT, then the last 50 messages' UID, FLAGS and header fields (a client's first screen).
  sort_date     SORT (DATE) UTF-8 ALL.
  thread_refs   THREAD REFERENCES UTF-8 ALL.
  qresync       10 messages flagged and 10 expunged by another session since the client last knew the
                mailbox; SELECT ... (QRESYNC (uidvalidity modseq 1:last-uid)) with ENABLE QRESYNC.

Each operation runs ROUNDS times on its own connection (the login untimed); prints
"RESULT op=NAME first_ms=… median_ms=… n=…" per operation. Loopback only, every loop bounded.
usage: imap_sync.py --port P --user U --password W --messages N [--rounds R] [--populate]
"""
import argparse
import re
import socket
import statistics
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--user", required=True)
parser.add_argument("--password", required=True)
parser.add_argument("--messages", type=int, default=10_000)
parser.add_argument("--rounds", type=int, default=5)
parser.add_argument("--populate", action="store_true")
parser.add_argument("--write-mbox", metavar="PATH", help="write the messages --populate would APPEND to an mbox file instead")
args = parser.parse_args()
HOST = "127.0.0.1"


class Connection:
    def __init__(self):
        self.sock = socket.create_connection((HOST, args.port), timeout=600)
        self.reader = self.sock.makefile("rb")
        self.reader.readline()
        self.tag = 0
        self.command(f'LOGIN {args.user} "{args.password}"')

    def command(self, text):
        """Sends one command; returns (untagged bytes, tagged line). Literals are read whole."""
        self.tag += 1
        tag = b"t%d" % self.tag
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        return self.answer(tag)

    def answer(self, tag):
        untagged = []
        for _ in range(100_000_000):
            line = self.reader.readline()
            if not line:
                raise SystemExit("connection closed")
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise SystemExit(f"failed: {line!r}")
                return b"".join(untagged), line
            untagged.append(line)
            literal = re.search(rb"\{(\d+)\}\r\n$", line)
            if literal:
                untagged.append(self.reader.read(int(literal.group(1))))
        raise SystemExit("no end of answer")

    def close(self):
        self.sock.close()


def message(i, threads):
    thread, position = i % threads, i // threads
    # Dates out of arrival order: arrival and date order differ, as with real mail.
    minutes = (i * 7919) % args.messages
    day, rest = divmod(minutes, 1440)
    date = f"{1 + day % 28:02d} Mar 2026 {rest // 60:02d}:{rest % 60:02d}:00 +0000"
    lines = [f"From: Sender {i % 97} <s{i % 97}@example.net>", f"To: {args.user}", f"Date: {date}",
             f"Message-ID: <{thread}.{position}@bench.test>",
             f"Subject: {'Re: ' if position else ''}Topic number {thread}"]
    if position:
        lines.append(f"In-Reply-To: <{thread}.{position - 1}@bench.test>")
        lines.append("References: " + " ".join(f"<{thread}.{p}@bench.test>" for p in range(max(0, position - 5), position)))
    body = ("This is message %d of thread %d, which says little at some length.\r\n" % (i, thread)) * 6
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def populate():
    connection = Connection()
    threads = max(1, args.messages // 10)
    started = time.monotonic()
    batch = 200
    for first in range(0, args.messages, batch):
        payload = b""
        tags = []
        for i in range(first, min(first + batch, args.messages)):
            data = message(i, threads)
            connection.tag += 1
            tag = b"t%d" % connection.tag
            tags.append(tag)
            payload += tag + b" APPEND INBOX {%d+}\r\n" % len(data) + data + b"\r\n"
        connection.sock.sendall(payload)
        for tag in tags:
            connection.answer(tag)
    seconds = time.monotonic() - started
    connection.close()
    print(f"RESULT op=populate messages={args.messages} seconds={seconds:.1f} msgs_per_sec={args.messages / seconds:.0f}", flush=True)


def timed(name, run):
    times = []
    for _ in range(args.rounds):
        connection = Connection()
        times.append(run(connection))
        connection.close()
    print(f"RESULT op={name} first_ms={times[0]:.1f} median_ms={statistics.median(times):.1f} n={args.rounds}", flush=True)


def select_last50(connection):
    started = time.monotonic()
    untagged, _ = connection.command("SELECT INBOX")
    exists = int(re.search(rb"\* (\d+) EXISTS", untagged).group(1))
    untagged, _ = connection.command(
        f"FETCH {max(1, exists - 49)}:{exists} (UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE MESSAGE-ID)])")
    elapsed = (time.monotonic() - started) * 1000
    if untagged.count(b" FETCH (") != min(50, exists):
        raise SystemExit(f"select_last50: {untagged.count(b' FETCH (')} answers")
    return elapsed


def sort_date(connection):
    connection.command("SELECT INBOX")
    started = time.monotonic()
    untagged, _ = connection.command("SORT (DATE) UTF-8 ALL")
    elapsed = (time.monotonic() - started) * 1000
    if len(untagged.split()) < 2:
        raise SystemExit("sort: nothing")
    return elapsed


def thread_refs(connection):
    connection.command("SELECT INBOX")
    started = time.monotonic()
    untagged, _ = connection.command("THREAD REFERENCES UTF-8 ALL")
    elapsed = (time.monotonic() - started) * 1000
    if untagged.count(b"(") < 2:
        raise SystemExit("thread: nothing")
    return elapsed


def qresync(connection):
    connection.command("ENABLE QRESYNC")
    untagged, _ = connection.command("SELECT INBOX (CONDSTORE)")
    validity = int(re.search(rb"UIDVALIDITY (\d+)", untagged).group(1))
    modseq = int(re.search(rb"HIGHESTMODSEQ (\d+)", untagged).group(1))
    exists = int(re.search(rb"\* (\d+) EXISTS", untagged).group(1))
    uid_next = int(re.search(rb"UIDNEXT (\d+)", untagged).group(1))
    connection.command("UNSELECT")
    other = Connection()
    other.command("SELECT INBOX")
    step = max(1, exists // 25)
    # A keyword new each round, so each of the ten is a change whatever the rounds before did.
    qresync.round = getattr(qresync, "round", 0) + 1
    other.command("STORE " + ",".join(str(1 + step * k) for k in range(10)) + f" +FLAGS ($Round{qresync.round})")
    other.command("STORE " + ",".join(str(2 + step * k) for k in range(10, 20)) + " +FLAGS (\\Deleted)")
    other.command("EXPUNGE")
    other.close()
    started = time.monotonic()
    untagged, _ = connection.command(f"SELECT INBOX (QRESYNC ({validity} {modseq} 1:{uid_next - 1}))")
    elapsed = (time.monotonic() - started) * 1000
    vanished = re.search(rb"\* VANISHED \(EARLIER\) ([\d:,]+)", untagged)
    fetched = untagged.count(b" FETCH (")
    if not vanished or fetched < 10:
        raise SystemExit(f"qresync: vanished {vanished and vanished.group(1)!r}, {fetched} FETCH")
    return elapsed


def write_mbox(path):
    threads = max(1, args.messages // 10)
    with open(path, "wb") as mbox:
        for i in range(args.messages):
            # No line of the generated messages starts with "From ", so nothing needs quoting.
            mbox.write(b"From bench@bench.test Sun Mar  1 00:00:00 2026\n" + message(i, threads).replace(b"\r\n", b"\n") + b"\n")
    print(f"RESULT op=write_mbox messages={args.messages}", flush=True)


if args.write_mbox:
    write_mbox(args.write_mbox)
elif args.populate:
    populate()
else:
    timed("select_last50", select_last50)
    timed("sort_date", sort_date)
    timed("thread_refs", thread_refs)
    timed("qresync", qresync)
sys.exit(0)
