"""A FETCH gets the same answer whichever way the server takes: the connection answers FETCHes of up to
64 messages that set no flag on its own (IMAPFetchShortcut), the session answers the rest. The same
items over 70 messages of varied structure are fetched as one command (the session: more than 64) and
as two halves (the shortcut), by sequence number and by UID, read-write and read-only; the answers
must be byte for byte the same. Then what the shortcut must leave to the session: a FETCH that sets
\\Seen, a flag and an expunge made by another session meanwhile. Last, SEARCH: keys on flags and
numbers answered from the selection or from the store, header keys parsing one field or all.
Arguments: IMAPS port, CA certificate file."""
import imaplib
import ssl
import sys

from imap_raw import fetch, logged_in
from smtp_raw import check

port, cafile = int(sys.argv[1]), sys.argv[2]
USER, PASSWORD = "alice@example.org", "correct horse battery"
context = ssl.create_default_context(cafile=cafile)
context.check_hostname = False
COUNT = 70


def message(n):
    kind = n % 6
    head = f"From: Sender {n} <s{n}@example.net>\r\nTo: alice@example.org\r\nDate: Mon, 2 Nov 2026 10:{n % 60:02d}:00 +0000\r\n"
    if kind == 0:
        return (head + f"Subject: plain {n}\r\n\r\nLine one of {n}.\r\n..dot-leading\r\n").encode()
    if kind == 1:
        return (head + "Subject: =?UTF-8?B?w6lsw6h2ZQ==?=\r\nMIME-Version: 1.0\r\n"
                "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                f"Caf\u00e9 {n} \u2014 na\u00efve\r\n").encode()
    if kind == 2:
        return (head + f"Subject: alternative {n}\r\nMIME-Version: 1.0\r\n"
                "Content-Type: multipart/alternative; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
                f"text {n}\r\n--b1\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
                f"<p>html=3D{n}</p>\r\n--b1--\r\n").encode()
    if kind == 3:
        return (head + f"Subject: attachment {n}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n"
                f"--m\r\nContent-Type: text/plain\r\n\r\nsee attached {n}\r\n--m\r\n"
                "Content-Type: application/octet-stream; name*=UTF-8''r%C3%A9sum%C3%A9.bin\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\nAAECAwQFBgcICQ==\r\n--m--\r\n").encode()
    if kind == 4:
        return (head + f"Subject: forwarded {n}\r\nMIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n"
                f"From: inner@example.com\r\nSubject: inner {n}\r\n\r\ninner body {n}\r\n").encode()
    return (head + f"Subject: no body {n}\r\n\r\n").encode()


imap = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=context, timeout=30)
imap.login(USER, PASSWORD)
check("CREATE Paths", imap.create("Paths")[0] == "OK")
for n in range(COUNT):
    flags = "(\\Flagged $Label)" if n % 5 == 0 else ("(\\Answered)" if n % 7 == 0 else None)
    check(f"APPEND {n}", imap.append("Paths", flags, None, message(n))[0] == "OK")

ITEMS = ("(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] "
         "BODY.PEEK[1] BODY.PEEK[TEXT]<3.20> BINARY.PEEK[1] BINARY.SIZE[1] BODY.PEEK[1.MIME])")
sock, reader = logged_in(port, context, USER, PASSWORD)
for mode in ("SELECT", "EXAMINE"):
    fetch(sock, reader, "s", f"{mode} Paths")
    whole, done = fetch(sock, reader, "w", f"FETCH 1:{COUNT} {ITEMS}")
    check(f"{mode}: FETCH of {COUNT} messages completed", done.startswith(b"w OK"), done)
    check(f"{mode}: it answered every message", whole.count(b" FETCH (") == COUNT, whole[:200])
    first, done1 = fetch(sock, reader, "a", f"FETCH 1:35 {ITEMS}")
    second, done2 = fetch(sock, reader, "b", f"FETCH 36:{COUNT} {ITEMS}")
    check(f"{mode}: the two halves completed", done1.startswith(b"a OK") and done2.startswith(b"b OK"), done1 + done2)
    check(f"{mode}: the halves say byte for byte what the whole said", first + second == whole,
          f"{len(first + second)} vs {len(whole)} bytes")
    by_uid, _ = fetch(sock, reader, "u", f"UID FETCH 1:* {ITEMS}")
    halves = fetch(sock, reader, "v", f"UID FETCH 1:30 {ITEMS}")[0] + fetch(sock, reader, "x", f"UID FETCH 31:* {ITEMS}")[0]
    check(f"{mode}: UID FETCH in halves says what UID FETCH 1:* said", halves == by_uid and by_uid.count(b" FETCH (") == COUNT,
          f"{len(halves)} vs {len(by_uid)} bytes")
    one, _ = fetch(sock, reader, "o", "FETCH 2 (BODY.PEEK[])")
    check(f"{mode}: one whole message byte for byte", one == b"* 2 FETCH (BODY[] {%d}\r\n" % len(message(1)) + message(1) + b")\r\n", one)

# Read-write again: BODY[] without PEEK sets \Seen, which only the session does, and says so.
fetch(sock, reader, "s", "SELECT Paths")
seen, done = fetch(sock, reader, "r", "FETCH 3 (BODY[HEADER.FIELDS (SUBJECT)])")
check("FETCH BODY[...] sets \\Seen and announces it", done.startswith(b"r OK") and b"FLAGS (\\Seen)" in seen, seen)
again, _ = fetch(sock, reader, "r2", "FETCH 3 (FLAGS)")
check("the next FETCH FLAGS shows \\Seen", again == b"* 3 FETCH (FLAGS (\\Seen))\r\n", again)

# Another session changes a flag and expunges a message: the next FETCH reports the change, and the
# expunge waits for a command that may send it (RFC 9051 §7.5.1).
other = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=context, timeout=30)
other.login(USER, PASSWORD)
other.select("Paths")
check("the other session flags message 4", other.store("4", "+FLAGS", "(\\Draft)")[0] == "OK")
check("the other session deletes message 6", other.store("6", "+FLAGS", "(\\Deleted)")[0] == "OK" and other.expunge()[0] == "OK")
changed, _ = fetch(sock, reader, "c", "FETCH 4 (FLAGS)")
check("FETCH after another session's STORE shows the new flag", b"* 4 FETCH (FLAGS (\\Draft))\r\n" in changed, changed)
check("and sends no EXPUNGE during a sequence-number FETCH", b"EXPUNGE" not in changed, changed)
held, _ = fetch(sock, reader, "h", "FETCH 4 (FLAGS)")
check("a second FETCH still holds the expunge back", held == b"* 4 FETCH (FLAGS (\\Draft))\r\n", held)
told, _ = fetch(sock, reader, "t", "UID FETCH 4 (FLAGS)")
check("UID FETCH sends the expunge", b"* 6 EXPUNGE\r\n" in told, told)
after, _ = fetch(sock, reader, "n", "FETCH 6 (UID)")
check("sequence numbers then follow the expunge", after == b"* 6 FETCH (UID 7)\r\n", after)
# SEARCH on flags, UIDs and sequence numbers is answered from the selection when it is current; with
# a key that needs the store (LARGER 0: every message) it reads the store. Same results either way,
# also right after another session changed flags. Header keys parse only the fields they name; with
# TEXT "" (every message, every field) the whole header is parsed: same results again.
def search(tag, criteria):
    untagged, done = fetch(sock, reader, tag, f"UID SEARCH {criteria}")
    check(f"UID SEARCH {criteria} completed", done.startswith(tag.encode() + b" OK"), done)
    found = [line for line in untagged.split(b"\r\n") if line.startswith(b"* SEARCH")]
    return sorted(int(n) for n in found[0].split()[2:]) if found else None


check("the other session flags message 9", other.store("9", "+FLAGS", "(\\Flagged $Label)")[0] == "OK")
for n, criteria in enumerate(["FLAGGED", "UNSEEN", "KEYWORD $Label", "NOT ANSWERED", "OR DRAFT ANSWERED", "UID 5:20 UNFLAGGED", "2:9 SEEN"]):
    memory, stored = search(f"m{n}", criteria), search(f"s{n}", f"{criteria} LARGER 0")
    check(f"SEARCH {criteria}: the same from the selection and from the store", memory is not None and memory == stored,
          f"{memory} vs {stored}")
check("the flag just set elsewhere is found", 10 in (search("f", "FLAGGED") or []))
for n, criteria in enumerate(['SUBJECT "forwarded"', 'FROM "s13@"', 'HEADER CONTENT-TYPE "alternative"', 'OR SUBJECT plain TO nobody', 'SENTSINCE 1-Nov-2026 SUBJECT "no body"']):
    named, whole = search(f"h{n}", criteria), search(f"w{n}", f'{criteria} TEXT ""')
    check(f"SEARCH {criteria}: the same parsing one field or all", named is not None and named == whole and len(named) > 0,
          f"{named} vs {whole}")
sock.close()
other.logout()
imap.logout()
print("all checks passed")
