#!/usr/bin/env python3
"""A mixed IMAP workload, the way mail clients use a server: each thread logs in (untimed), then runs
cycles of
    SELECT INBOX
    UID FETCH of 50 message headers (FLAGS, RFC822.SIZE, the fields a message list shows)
    UID FETCH BODY.PEEK[] of two messages, each followed by UID STORE +FLAGS or -FLAGS (\\Flagged)
    UID SEARCH, in turn FLAGGED / SUBJECT "populate 7" / UNSEEN SINCE 1-Jan-2020
    APPEND of a 4 KiB message to its own mailbox (Bench-<thread>, created and emptied untimed)
until --max-msgs commands in all or --max-secs seconds. Server-agnostic (imaplib), for the INBOXes the
anchors' imap_populate.py fills. Uses the anchors' benchlib (--anchors DIR).
Last line: RESULT imap_mixed ... msgs_per_sec=X ... (X: commands per second; 8 commands a cycle)."""
import argparse
import imaplib
import re
import sys

WINDOW = 50
COMMANDS_PER_CYCLE = 8
SEARCHES = ["FLAGGED", 'SUBJECT "populate 7"', "UNSEEN SINCE 1-Jan-2020"]


def main():
    anchors = next((sys.argv[i + 1] for i, a in enumerate(sys.argv[:-1]) if a == "--anchors"), None)
    if anchors is None:
        raise SystemExit("--anchors DIR is required (the anchors' benchlib)")
    sys.path.insert(0, anchors)
    import benchlib

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    benchlib.add_common_args(p, 10143)
    p.add_argument("--anchors", required=True)
    args = p.parse_args()
    benchlib.check_host(args)
    users = benchlib.user_list(args)
    budget = benchlib.Budget(args.max_msgs, args.max_secs)
    appended = (b"From: Bench <bench@bench.test>\r\nTo: someone@bench.test\r\nSubject: mixed\r\n\r\n"
                + b"".join(b"%078d\r\n" % i for i in range(50)))

    def setup(i):
        c = imaplib.IMAP4(args.host, args.port, timeout=args.timeout)
        c.login(users[i % len(users)], args.password)
        mine = f"Bench-{i}"
        c.create(mine)  # NO when it exists: fine
        typ, data = c.select(mine)
        if typ == "OK" and int(data[0]) > 0:  # "1:*" of an empty mailbox is an error for some servers
            c.store("1:*", "+FLAGS.SILENT", "(\\Deleted)")
            c.expunge()
        c.close()
        return c, mine

    def expect(i, what, result):
        typ, data = result
        if typ != "OK":
            budget.error(f"thread {i}: {what}: {typ} {data!r}")
            return None
        return data

    def work(i, state):
        c, mine = state
        position, cycle = 0, 0
        while budget.take(COMMANDS_PER_CYCLE) == COMMANDS_PER_CYCLE:
            nbytes = 0
            data = expect(i, "SELECT", c.select("INBOX"))
            if data is None:
                break
            exists = int(data[0])
            if exists < WINDOW:
                budget.error(f"thread {i}: INBOX holds {exists} messages; populate it first")
                break
            first = position % (exists - WINDOW + 1) + 1
            data = expect(i, "FETCH headers", c.fetch(
                f"{first}:{first + WINDOW - 1}",
                "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE MESSAGE-ID)])"))
            if data is None:
                break
            uids = [int(m.group(1)) for item in data if isinstance(item, tuple)
                    for m in [re.search(rb"UID (\d+)", item[0])] if m]
            nbytes += sum(len(item[1]) for item in data if isinstance(item, tuple))
            if len(uids) != WINDOW:
                budget.error(f"thread {i}: FETCH headers gave {len(uids)} of {WINDOW}")
                break
            for uid in (uids[cycle % WINDOW], uids[(cycle * 7 + 3) % WINDOW]):
                data = expect(i, "FETCH body", c.uid("FETCH", str(uid), "(BODY.PEEK[])"))
                if data is None or not isinstance(data[0], tuple):
                    budget.error(f"thread {i}: FETCH body of UID {uid}: {data!r}")
                    return
                nbytes += len(data[0][1])
                sign = "+" if cycle % 2 == 0 else "-"
                if expect(i, "STORE", c.uid("STORE", str(uid), f"{sign}FLAGS", "(\\Flagged)")) is None:
                    return
            if expect(i, "SEARCH", c.uid("SEARCH", None, SEARCHES[cycle % len(SEARCHES)])) is None:
                break
            if expect(i, "APPEND", c.append(mine, None, None, appended)) is None:
                break
            budget.done(COMMANDS_PER_CYCLE, nbytes)
            position += WINDOW
            cycle += 1
        c.logout()

    secs = benchlib.run_threads(args.threads, setup, work, budget)
    if budget.first_error:
        print(f"first error: {budget.first_error}", file=sys.stderr)
    print(benchlib.result_line("imap_mixed", args, budget, secs, benchlib.cpu_seconds(),
                               f"commands_per_cycle={COMMANDS_PER_CYCLE}"))
    sys.exit(1 if budget.errors else 0)


if __name__ == "__main__":
    main()
