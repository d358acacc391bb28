#!/usr/bin/env python3
"""IMAP where clients look hardest: the corners of RFC 9051 / RFC 3501 that conformance suites probe,
with Python's imaplib (a client nobody here wrote) and, where the order of untagged lines is the point,
a raw IMAPS connection.

usage: imap_conformance.py IMAPS_PORT CA_FILE
The account alice@example.org / "correct horse battery" exists. Each check works in mailboxes of its
own. Prints "ok <check>" per check and "all checks passed" at the end; exits 1 at the first failure.
"""
import imaplib
import re
import ssl
import sys

from imap_raw import fetch, logged_in

imaps_port, ca_file = int(sys.argv[1]), sys.argv[2]
USER, PASSWORD = "alice@example.org", "correct horse battery"
context = ssl.create_default_context(cafile=ca_file)
context.check_hostname = False


def session():
    imap = imaplib.IMAP4_SSL("127.0.0.1", imaps_port, ssl_context=context, timeout=15)
    imap.login(USER, PASSWORD)
    return imap


def raw():
    return logged_in(imaps_port, context, USER, PASSWORD)


def expect(condition, what):
    if not condition:
        raise SystemExit(f"FAIL: {what}")


def flags_line(untagged):
    """The keywords of the last untagged FLAGS line in `untagged` (bytes), or None."""
    found = re.findall(rb"^\* FLAGS \(([^)]*)\)", untagged, re.M)
    return found[-1].decode().split() if found else None


def keywords_announced():
    """A keyword is listed in FLAGS (and PERMANENTFLAGS) before any FETCH shows it: at SELECT, after
    another session sets it, when this session sets it, and when a FETCH reads it first."""
    imap = session()
    imap.create("Kw")
    imap.append("Kw", "($Forwarded)", None, b"Subject: one\r\n\r\nbody\r\n")
    imap.append("Kw", None, None, b"Subject: two\r\n\r\nbody\r\n")

    # SELECT lists the mailbox's keywords.
    sock, reader = raw()
    untagged, done = fetch(sock, reader, "s", "SELECT Kw")
    expect(done.startswith(b"s OK"), f"SELECT: {done!r}")
    expect("$Forwarded" in (flags_line(untagged) or []), f"SELECT's FLAGS without $Forwarded: {untagged!r}")
    permanent = re.search(rb"PERMANENTFLAGS \(([^)]*)\)", untagged)
    expect(permanent and b"$Forwarded" in permanent.group(1) and b"\\*" in permanent.group(1),
           f"PERMANENTFLAGS: {untagged!r}")

    # Another session sets a new keyword: FLAGS comes before the FETCH that shows it.
    imap.select("Kw")
    imap.store("1", "+FLAGS", "($Label1)")
    untagged, done = fetch(sock, reader, "n", "NOOP")
    expect(done.startswith(b"n OK"), f"NOOP: {done!r}")
    flags_at = untagged.find(b"* FLAGS (")
    fetch_at = untagged.find(b"FETCH (")
    expect(flags_at >= 0 and "$Label1" in (flags_line(untagged) or []), f"no FLAGS with $Label1 after NOOP: {untagged!r}")
    expect(fetch_at < 0 or flags_at < fetch_at, f"FETCH before FLAGS: {untagged!r}")

    # This session's own STORE of a new keyword (silent or not) announces it first.
    untagged, done = fetch(sock, reader, "t", "STORE 2 +FLAGS (Custom_kw)")
    expect(done.startswith(b"t OK"), f"STORE: {done!r}")
    flags_at = untagged.find(b"* FLAGS (")
    expect(0 <= flags_at < untagged.find(b"FETCH ("), f"STORE's FETCH before FLAGS: {untagged!r}")
    expect("Custom_kw" in (flags_line(untagged) or []) and "$Label1" in (flags_line(untagged) or []),
           f"FLAGS after STORE: {untagged!r}")

    # A FETCH that reads a keyword set meanwhile by another session announces it before its FETCH line.
    imap.store("2", "+FLAGS", "(NonJunk)")
    untagged, done = fetch(sock, reader, "f", "FETCH 2 (FLAGS)")
    expect(done.startswith(b"f OK"), f"FETCH: {done!r}")
    first_fetch = untagged.find(b"FETCH (")
    flags_at = untagged.find(b"* FLAGS (")
    expect(0 <= flags_at < first_fetch and "NonJunk" in (flags_line(untagged) or []), f"FETCH of a new keyword: {untagged!r}")

    # A message appended elsewhere with a keyword: announced with its EXISTS.
    imap.append("Kw", "(Seen_elsewhere)", None, b"Subject: three\r\n\r\nbody\r\n")
    untagged, done = fetch(sock, reader, "m", "NOOP")
    expect("Seen_elsewhere" in (flags_line(untagged) or []), f"appended keyword not announced: {untagged!r}")
    expect(b"* 3 EXISTS" in untagged, f"EXISTS: {untagged!r}")

    # Known keywords are not announced again (any spelling: flag names compare without case).
    imap.store("1", "+FLAGS", "($label1)")
    untagged, _ = fetch(sock, reader, "k", "NOOP")
    expect(b"* FLAGS" not in untagged, f"a keyword announced twice: {untagged!r}")
    sock.close()
    imap.logout()


CHECKS = [keywords_announced]

if __name__ == "__main__":
    wanted = set(sys.argv[3:])
    for check in CHECKS:
        if wanted and check.__name__ not in wanted:
            continue
        check()
        print(f"ok {check.__name__}", flush=True)
    print("all checks passed")
