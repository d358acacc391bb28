#!/usr/bin/env python3
"""Rounds of mail delivered and expunged on one server with short retention: the database file must
stop growing. Standard library only.

  store_steady.py --smtp-port P --imap-port Q --user U --password PW --database PATH
                  [--rounds 10] [--per-round 10000] [--size 4096] [--threads 4] [--settle-secs 4]

Each round: --per-round messages of --size bytes to U over SMTP (--threads connections, each reused),
wait until U's INBOX holds them all, mark them \\Deleted and EXPUNGE over IMAP, wait --settle-secs for the
purge (queue entries, change feed) and the incremental vacuum, then print the file sizes.
Lines: "ROUND n db_mb=X wal_mb=Y total_mb=Z"; last: "RESULT store_steady rounds=N messages=M
first_total_mb=A max_total_mb_after_round_2=B last_total_mb=C"
"""
import argparse
import imaplib
import os
import smtplib
import threading
import time


def send(args, count, round_number):
    body = b"x" * max(0, args.size - 200)
    errors = []

    def worker(share, index):
        try:
            client = smtplib.SMTP("127.0.0.1", args.smtp_port, timeout=60)
            for n in range(share):
                message = (b"From: load@remote.example\r\nTo: " + args.user.encode() + b"\r\nSubject: round %d message %d-%d\r\n\r\n"
                           % (round_number, index, n) + body + b"\r\n")
                client.sendmail("load@remote.example", [args.user], message)
            client.quit()
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(repr(error))

    shares = [count // args.threads + (1 if i < count % args.threads else 0) for i in range(args.threads)]
    threads = [threading.Thread(target=worker, args=(share, i)) for i, share in enumerate(shares)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"SMTP errors: {errors[:3]}")


def inbox_count(imap):
    typ, data = imap.status("INBOX", "(MESSAGES)")
    return int(data[0].decode().split("MESSAGES ")[1].rstrip(")"))


def size_mb(path):
    return os.path.getsize(path) / 1048576 if os.path.exists(path) else 0.0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--smtp-port", type=int, required=True)
    p.add_argument("--imap-port", type=int, required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--database", required=True)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--per-round", type=int, default=10000)
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--settle-secs", type=float, default=4)
    args = p.parse_args()
    totals = []
    for round_number in range(1, args.rounds + 1):
        send(args, args.per_round, round_number)
        imap = imaplib.IMAP4("127.0.0.1", args.imap_port, timeout=120)
        imap.login(args.user, args.password)
        deadline = time.monotonic() + 600
        while inbox_count(imap) < args.per_round and time.monotonic() < deadline:
            time.sleep(0.5)
        imap.select("INBOX")
        imap.store("1:*", "+FLAGS.SILENT", "(\\Deleted)")
        imap.expunge()
        imap.logout()
        time.sleep(args.settle_secs)
        db, wal = size_mb(args.database), size_mb(args.database + "-wal")
        totals.append(db + wal)
        print(f"ROUND {round_number} db_mb={db:.1f} wal_mb={wal:.1f} total_mb={db + wal:.1f}", flush=True)
    later = max(totals[1:]) if len(totals) > 1 else totals[0]
    print(f"RESULT store_steady rounds={args.rounds} messages={args.rounds * args.per_round} first_total_mb={totals[0]:.1f} "
          f"max_total_mb_after_round_2={later:.1f} last_total_mb={totals[-1]:.1f}")


main()
