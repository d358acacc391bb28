#!/usr/bin/env python3
"""IMAP end to end with Python's imaplib (a client nobody here wrote), raw sockets and POP3.

usage: imap_checks.py SMTP_PORT IMAP_PORT IMAPS_PORT POP3S_PORT CA_FILE
The account alice@example.org / "correct horse battery" exists and its INBOX is empty. Mail arrives
through SMTP and the delivery worker. Prints "ok <check>" per check and "all checks passed" at the end;
exits 1 at the first failure.
"""
import base64
import imaplib
import poplib
import re
import smtplib
import socket
import ssl
import sys
import threading
import time

from imap_raw import logged_in
from smtp_raw import HOST, check

smtp_port, imap_port, imaps_port, pop3s_port, ca_file = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                                                          int(sys.argv[4]), sys.argv[5])
USER, PASSWORD = "alice@example.org", "correct horse battery"
context = ssl.create_default_context(cafile=ca_file)
context.check_hostname = False

TRICKY = (b"Subject: tricky\r\nFrom: carol@remote.example\r\nTo: alice@example.org\r\n\r\n"
          b".starts with a dot\r\n\r\ncaf\xc3\xa9 8-bit\r\n" + bytes(range(1, 9)) + bytes(range(128, 256)) + b"\r\nend\r\n")


def send(subject, body=None):
    message = body if body is not None else f"Subject: {subject}\r\nFrom: carol@remote.example\r\n\r\nbody of {subject}\r\n".encode()
    client = smtplib.SMTP(HOST, smtp_port, timeout=15)
    client.sendmail("carol@remote.example", ["alice@example.org"], message)
    client.quit()


def session():
    imap = imaplib.IMAP4_SSL(HOST, imaps_port, ssl_context=context, timeout=15)
    imap.login(USER, PASSWORD)
    return imap


def greeted():
    """A new IMAPS connection whose greeting has been read: (socket, reader)."""
    tls = context.wrap_socket(socket.create_connection((HOST, imaps_port), timeout=15), server_hostname="localhost")
    lines = tls.makefile("rb")
    lines.readline()
    return tls, lines


def wait_for(count, deadline=30):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        imap = session()
        status = imap.status("INBOX", "(MESSAGES)")[1][0].decode()
        imap.logout()
        if int(re.search(r"MESSAGES (\d+)", status).group(1)) >= count:
            return
        time.sleep(0.2)
    check("delivery", False, f"fewer than {count} messages after {deadline} s")


# --- Plaintext port: STARTTLS offered, LOGIN refused before TLS ---
imap = imaplib.IMAP4(HOST, imap_port, timeout=15)
check("CAPABILITY before TLS", "STARTTLS" in imap.capabilities and "LOGINDISABLED" in imap.capabilities
      and "IMAP4REV2" in imap.capabilities, f"{imap.capabilities}")
try:
    imap.login(USER, PASSWORD)
    check("LOGIN refused before TLS", False)
except imaplib.IMAP4.error as error:
    check("LOGIN refused before TLS", "PRIVACYREQUIRED" in str(error), str(error))
imap.starttls(context)
check("STARTTLS, then AUTH=PLAIN offered", "AUTH=PLAIN" in imap.capabilities and "STARTTLS" not in imap.capabilities,
      f"{imap.capabilities}")
typ, data = imap.login(USER, PASSWORD)
check("LOGIN over STARTTLS", typ == "OK", f"{data}")
imap.logout()

# --- STARTTLS with a command pipelined in plaintext: dropped, never answered inside TLS (CVE-2011-0411) ---
sock = socket.create_connection((HOST, imap_port), timeout=15)
plain = sock.makefile("rb")
plain.readline()
sock.sendall(b"t1 STARTTLS\r\nt2 LOGIN alice@example.org \"correct horse battery\"\r\n")
ready = plain.readline()
tls = context.wrap_socket(sock, server_hostname="localhost")
reader = tls.makefile("rb")
tls.sendall(b"t3 NOOP\r\n")
first = reader.readline()
check("STARTTLS: the LOGIN pipelined in plaintext is dropped, the first answer inside TLS is for NOOP",
      ready.startswith(b"t1 OK") and first.startswith(b"t3 OK"), f"{ready!r} {first!r}")
tls.sendall(b"t4 SELECT INBOX\r\n")
answer = reader.readline()
check("... and the session is not logged in", answer.startswith(b"t4 BAD"), f"{answer!r}")
tls.close()

# --- Mail arrives through SMTP ---
send("first")
wait_for(1)
send("second")
wait_for(2)
send("tricky", TRICKY)
wait_for(3)

imap = session()
typ, data = imap.list()
names = [line.decode() for line in data]
check("LIST shows INBOX and the special-use mailboxes", any(n.endswith('"INBOX"') or n.endswith(" INBOX") for n in names)
      and any("\\Sent" in n for n in names) and any("\\Drafts" in n for n in names), f"{names}")
check("CREATE in modified UTF-7", imap.create('"Projekte/Entw&APw-rfe"')[0] == "OK")
typ, data = imap.list('""', '"Projekte/*"')
check("LIST pattern, name round-trips in modified UTF-7", len(data) == 1 and b"Projekte/Entw&APw-rfe" in data[0], f"{data}")
typ, data = imap.list('""', '"Projekte/%"')
check("LIST % stays on one level", len(data) == 1, f"{data}")
check("CREATE of an existing mailbox", imap.create('"Projekte/Entw&APw-rfe"')[0] == "NO")
check("CREATE with a bad name", imap.create('"a//b"')[0] == "NO")

typ, data = imap.select("INBOX")
check("SELECT INBOX", typ == "OK" and data[0] == b"3", f"{typ} {data}")
check("UIDVALIDITY and UIDNEXT", "UIDVALIDITY" in imap.untagged_responses and "UIDNEXT" in imap.untagged_responses)
typ, data = imap.fetch("1:*", "(UID RFC822.SIZE FLAGS)")
check("FETCH 1:* UID RFC822.SIZE FLAGS", typ == "OK" and len(data) == 3, f"{data}")
sizes = [int(re.search(rb"RFC822.SIZE (\d+)", item).group(1)) for item in data]
uids = [int(re.search(rb"UID (\d+)", item).group(1)) for item in data]
check("UIDs ascending", uids == sorted(uids) and len(set(uids)) == 3, f"{uids}")
typ, data = imap.fetch("3", "(BODY.PEEK[])")
body = data[0][1]
check("FETCH BODY.PEEK[] byte-exact (dots, 8-bit, binary-looking)", body.endswith(TRICKY), f"{body[-200:]!r}")
check("RFC822.SIZE matches the bytes FETCH sends", len(body) == sizes[2], f"{len(body)} vs {sizes[2]}")
typ, data = imap.fetch("3", "(FLAGS)")
check("BODY.PEEK does not set \\Seen", b"\\Seen" not in data[0], f"{data}")
typ, data = imap.fetch("3", "(BODY[HEADER.FIELDS (SUBJECT)])")
check("BODY[HEADER.FIELDS (SUBJECT)]", data[0][1] == b"Subject: tricky\r\n\r\n", f"{data}")
typ, data = imap.fetch("3", "(FLAGS)")
check("BODY[...] sets \\Seen", b"\\Seen" in data[0], f"{data}")
typ, data = imap.fetch("3", "(BODY.PEEK[TEXT]<0.18>)")
check("BODY[TEXT]<0.18> partial", data[0][1] == b".starts with a dot", f"{data}")
typ, data = imap.uid("FETCH", f"{uids[1]}", "(BODY.PEEK[HEADER])")
check("UID FETCH BODY.PEEK[HEADER]", typ == "OK" and b"Subject: second\r\n" in data[0][1] and data[0][1].endswith(b"\r\n\r\n"),
      f"{data}")

# --- SEARCH: flags, headers, text, dates, sizes, NOT/OR, UID, ESEARCH and SAVE ---
def search(*criteria):
    typ, data = imap.search(None, *criteria)
    return data[0].decode() if typ == "OK" else typ


check("SEARCH ALL", search("ALL") == "1 2 3")
check("SEARCH SUBJECT", search("SUBJECT", "tricky") == "3")
check("SEARCH TEXT in the body", search("TEXT", '"starts with a dot"') == "3")
check("SEARCH BODY does not look at the header", search("BODY", "tricky") == "")
check("SEARCH FROM and NOT", search("FROM", "carol", "NOT", "SUBJECT", "first") == "2 3")
check("SEARCH SEEN", search("SEEN") == "3")
check("SEARCH OR", search("OR", "SEEN", "SUBJECT", "first") == "1 3")
check("SEARCH parenthesised and sequence set", search("(1:2 UNSEEN)") == "1 2")
check("SEARCH SINCE and BEFORE", search("SINCE", "1-Jan-2020") == "1 2 3" and search("BEFORE", "1-Jan-2020") == "")
check("SEARCH LARGER and SMALLER", search("LARGER", "100000") == "" and search("SMALLER", "100000") == "1 2 3")
check("SEARCH HEADER", search("HEADER", "To", "alice") == "3")
check("SEARCH KEYWORD", search("KEYWORD", "$Nothing") == "")
typ, data = imap.uid("SEARCH", "SUBJECT second")
check("UID SEARCH", data == [str(uids[1]).encode()], f"{data}")
typ, data = imap.uid("SEARCH", "RETURN (MIN MAX COUNT ALL) NOT SUBJECT second")
esearch = imap.response("ESEARCH")[1]
check("ESEARCH (RETURN)", typ == "OK" and esearch and
      esearch[-1].decode().endswith(f"UID MIN {uids[0]} MAX {uids[2]} COUNT 2 ALL {uids[0]},{uids[2]}"), f"{esearch}")
typ, data = imap._simple_command("SEARCH", "RETURN (SAVE) SEEN")
check("SEARCH RETURN (SAVE) answers no ESEARCH", typ == "OK" and imap.response("ESEARCH")[1] == [None], f"{typ} {data}")
typ, data = imap.fetch("$", "(UID)")
check("FETCH $ uses the saved result", typ == "OK" and len(data) == 1 and b"UID %d" % uids[2] in data[0], f"{data}")
typ, data = imap.search("KOI8-R", "ALL")
check("SEARCH CHARSET unknown: NO [BADCHARSET]", typ == "NO" and b"BADCHARSET" in data[0], f"{typ} {data}")

# --- ENVELOPE, BODYSTRUCTURE and body parts of a multipart message with an attached message ---
MULTIPART = (b'From: "Carol Q. Public" <carol@remote.example>\r\nTo: alice@example.org, Team: bob@example.org, dan@example.org;\r\n'
             b"Subject: =?utf-8?q?caf=C3=A9?=\r\nDate: Sat, 7 Feb 2026 09:30:00 +0100\r\nMessage-ID: <m1@remote.example>\r\n"
             b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="outer"\r\n\r\n'
             b"preamble\r\n--outer\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\nworld\r\n"
             b"--outer\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.eml\r\n\r\n"
             b"Subject: inner\r\nFrom: eve@remote.example\r\n\r\ninner body\r\n"
             b"--outer--\r\nepilogue\r\n")
typ, data = imap.append("INBOX", None, None, MULTIPART)
imap.noop()
typ, data = imap.fetch("4", "(ENVELOPE BODYSTRUCTURE)")
response = b"".join(part if isinstance(part, bytes) else b"".join(part) for part in data)
check("ENVELOPE with display names and a group", b'(("Carol Q. Public" NIL "carol" "remote.example"))' in response
      and b'(NIL NIL "Team" NIL)("bob"' not in response and b'(NIL NIL "Team" NIL)(NIL NIL "bob" "example.org")' in response
      and b'"<m1@remote.example>"' in response and b'"=?utf-8?q?caf=C3=A9?="' in response, f"{response!r}")
check("BODYSTRUCTURE multipart/mixed with text/plain and message/rfc822", b'("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 12 2' in response
      and b'"MESSAGE" "RFC822" NIL NIL NIL "7BIT"' in response and b'"MIXED" ("BOUNDARY" "outer")' in response
      # 8-bit text goes to an IMAP4rev1 client as a literal.
      and b'("ATTACHMENT" ("FILENAME" {12}r\xc3\xa9sum\xc3\xa9.eml))' in response, f"{response!r}")
typ, data = imap.fetch("4", "(BODY.PEEK[1] BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BODY.PEEK[2.MIME] BODY.PEEK[1.MIME])")
parts = [item[1] for item in data if isinstance(item, tuple)]
check("BODY[1], BODY[2.HEADER], BODY[2.TEXT], BODY[2.MIME], BODY[1.MIME]", parts == [
    b"hello\r\nworld", b"Subject: inner\r\nFrom: eve@remote.example\r\n\r\n", b"inner body",
    b"Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.eml\r\n\r\n",
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n"], f"{parts!r}")
typ, data = imap.fetch("4", "(BODY.PEEK[3] BODY)")
check("a part that does not exist is empty; BODY has no extension data", data[0][1] == b"" and b'"MIXED")' in data[1], f"{data!r}")
imap.store("4", "+FLAGS", "\\Deleted")
imap.expunge()

# --- BINARY (RFC 3516): parts with their transfer encoding undone; literal8 for NUL; UNKNOWN-CTE ---
payload = bytes(range(256)) + b"\x00end"
BINARYMSG = (b'Subject: binary\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
             b"--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
             b"caf=C3=A9 au lait, a long line that goes =\r\non\r\n"
             b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
             + base64.encodebytes(payload).replace(b"\n", b"\r\n") +
             b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n"
             b"--b--\r\n")
imap.create("Binary")
imap.append("Binary", None, None, BINARYMSG)
imap.select("Binary")
typ, data = imap.fetch("1", "(BINARY.PEEK[1] BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[2]<2.3>)")
literals = [item for item in data if isinstance(item, tuple)]
check("BINARY[1] of a quoted-printable part is decoded", literals[0][1] == "café au lait, a long line that goes on".encode(), f"{data!r}")
check("BINARY[2] of a base64 part is the original octets, as a literal8", literals[1][1] == payload
      and b"BINARY[2] ~{%d}" % len(payload) in literals[1][0], f"{literals[1][0]!r}")
rest = b" ".join(item if isinstance(item, bytes) else item[0] for item in data)
check("BINARY.SIZE[2] and a partial BINARY[2]<2>", b"BINARY.SIZE[2] %d" % len(payload) in rest
      and literals[2][1] == payload[2:5] and b"BINARY[2]<2>" in literals[2][0], f"{data!r}")
typ, data = imap.fetch("1", "(BINARY.PEEK[3])")
check("BINARY of an unknown transfer encoding: NO [UNKNOWN-CTE]", typ == "NO" and b"UNKNOWN-CTE" in data[0], f"{typ} {data}")
typ, data = imap.fetch("1", "(FLAGS)")
check("BINARY.PEEK leaves \\Seen alone", b"\\Seen" not in data[0], f"{data}")
typ, data = imap.fetch("1", "(BINARY[1] BINARY.PEEK[9])")
check("BINARY of a part that does not exist: NO", typ == "NO" and b"NONEXISTENT" in data[0], f"{typ} {data}")
typ, data = imap.fetch("1", "(BINARY[1])")
typ, flags = imap.fetch("1", "(FLAGS)")
check("BINARY sets \\Seen", typ == "OK" and b"\\Seen" in flags[0], f"{flags}")
# SEARCH reads what a person reads: transfer encodings undone, charsets converted, RFC 2047 decoded.
imap.literal = "café au lait".encode()
typ, data = imap.search("UTF-8", "BODY")
check("SEARCH BODY finds text inside quoted-printable", typ == "OK" and data[0] == b"1", f"{typ} {data}")
typ, data = imap.search(None, "BODY", "C3=A9")
check("SEARCH BODY does not match the encoded form", typ == "OK" and data[0] == b"", f"{typ} {data}")
typ, data = imap.search(None, "TEXT", "end")
check("SEARCH TEXT skips binary attachments", typ == "OK" and data[0] == b"", f"{typ} {data}")
imap.append("Binary", None, None, b"Subject: =?iso-8859-1?q?Gr=FC=DFe?= aus Wien\r\n\r\nhallo\r\n")
imap.literal = "grüße AUS".encode()
typ, data = imap.search("UTF-8", "SUBJECT")
check("SEARCH SUBJECT decodes RFC 2047 words (case-insensitively)", typ == "OK" and data[0] == b"2", f"{typ} {data}")
# Header searches first rule messages out on their raw bytes: words joined across a folded line still
# match, and a word found elsewhere in the header is not a match in the Subject.
imap.append("Binary", None, None, b"Subject: a long\r\n subject line\r\nX-Note: Mixed CASE words\r\n\r\nhallo\r\n")
typ, data = imap.search(None, "SUBJECT", '"LONG subject"')
check("SEARCH SUBJECT across a folded line", typ == "OK" and data[0] == b"3", f"{typ} {data}")
typ, data = imap.search(None, "SUBJECT", "words")
check("SEARCH SUBJECT does not match a word of another field", typ == "OK" and data[0] == b"", f"{typ} {data}")
typ, data = imap.search(None, "HEADER", "X-Note", '"case WORDS"', "SUBJECT", "line")
check("SEARCH HEADER and SUBJECT together", typ == "OK" and data[0] == b"3", f"{typ} {data}")
imap.select("INBOX")
imap.delete("Binary")

# --- Two sessions adding different flags to one message at the same moment: all are kept ---
racers = [session(), session()]
for racer in racers:
    racer.select("INBOX")


def race(racer, prefix):
    for n in range(15):
        racer.store("2", "+FLAGS", f"(${prefix}{n})")


threads = [threading.Thread(target=race, args=(racer, prefix)) for racer, prefix in zip(racers, ["Left", "Right"])]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join(30)
typ, data = racers[0].fetch("2", "(FLAGS)")
kept = set(re.findall(rb"\$(?:Left|Right)\d+", data[0]))
check("concurrent STORE +FLAGS from two sessions keeps every flag", len(kept) == 30, f"{len(kept)} {data}")
racers[0].store("2", "-FLAGS", "(" + " ".join(flag.decode() for flag in sorted(kept)) + ")")
for racer in racers:
    racer.logout()

# --- A second session in another connection sees this one's changes ---
other = session()
other.select("INBOX")
typ, data = imap.store("1", "+FLAGS", "(\\Flagged $Important)")
check("STORE +FLAGS", typ == "OK" and b"\\Flagged" in data[0] and b"$Important" in data[0], f"{data}")
typ, data = imap.uid("STORE", str(uids[1]), "+FLAGS.SILENT", "(\\Answered)")
check("UID STORE .SILENT sends no FETCH", typ == "OK" and data == [None], f"{data}")
other.response("EXISTS")
other.noop()
fetched = other.response("FETCH")[1]
check("the other session sees FETCH FLAGS at NOOP", any(item and b"\\Flagged" in item for item in fetched), f"{fetched}")
send("fourth")
exists = []
end = time.monotonic() + 20
while time.monotonic() < end:
    other.noop()
    exists = other.response("EXISTS")[1]
    if exists and exists[-1] == b"4":
        break
    time.sleep(0.2)
check("a delivery shows up as EXISTS", exists and exists[-1] == b"4", f"{exists}")

# --- EXPUNGE, here and there ---
imap.store("1", "+FLAGS", "\\Deleted")
typ, data = imap.expunge()
check("EXPUNGE reports the sequence number", typ == "OK" and data == [b"1"], f"{typ} {data}")
other.noop()
expunged = other.response("EXPUNGE")[1]
check("the other session sees EXPUNGE at NOOP", expunged == [b"1"], f"{expunged}")
imap.noop()
typ, data = imap.fetch("1:*", "(UID)")
check("three messages remain, renumbered", len(data) == 3 and int(re.search(rb"UID (\d+)", data[0]).group(1)) == uids[1], f"{data}")

# --- A POP3 deletion is an EXPUNGE for IMAP sessions ---
pop = poplib.POP3_SSL(HOST, pop3s_port, context=context, timeout=15)
pop.user(USER)
pop.pass_(PASSWORD)
pop.dele(1)
pop.quit()
other.noop()
expunged = other.response("EXPUNGE")[1]
check("POP3 DELE + QUIT shows up as EXPUNGE", expunged == [b"1"], f"{expunged}")
other.logout()

# --- APPEND, STATUS, TRYCREATE ---
message = b"Subject: draft\r\nFrom: alice@example.org\r\n\r\nbare LF line\nand CRLF\r\n"
typ, data = imap.append("Drafts", "(\\Draft)", imaplib.Time2Internaldate(1770453000), message)
check("APPEND with APPENDUID", typ == "OK" and b"APPENDUID" in data[0], f"{data}")
typ, data = imap.status("Drafts", "(MESSAGES UIDNEXT UNSEEN)")
check("STATUS", typ == "OK" and b"MESSAGES 1" in data[0] and b"UNSEEN 1" in data[0], f"{data}")
typ, data = imap.append("Nonexistent", None, None, message)
check("APPEND to a missing mailbox: TRYCREATE", typ == "NO" and b"TRYCREATE" in data[0], f"{data}")
imap.select("Drafts", readonly=True)
typ, data = imap.fetch("1", "(RFC822.SIZE BODY.PEEK[] INTERNALDATE FLAGS)")
size = int(re.search(rb"RFC822.SIZE (\d+)", data[0][0]).group(1))
check("APPEND normalises line ends; size matches", data[0][1] == message.replace(b"line\nand", b"line\r\nand")
      and size == len(data[0][1]), f"{data}")
items = data[0][0] + data[1]
check("APPEND keeps flags and the internal date", b"\\Draft" in items and b"07-Feb-2026 08:30:00 +0000" in items, f"{data}")
typ, data = imap.store("1", "+FLAGS", "\\Seen")
check("STORE in a read-only mailbox", typ == "NO", f"{data}")

# --- COPY and MOVE with COPYUID, SUBSCRIBE, RENAME and DELETE of a hierarchy, INBOX rules ---
imap.select("INBOX")
typ, data = imap.fetch("1:*", "(UID)")
inbox_uids = [int(re.search(rb"UID (\d+)", item).group(1)) for item in data]
check("INBOX holds tricky and fourth", len(inbox_uids) == 2, f"{data}")
typ, data = imap.copy("1", "Drafts")
check("COPY with COPYUID", typ == "OK" and re.search(rb"COPYUID \d+ %d 2" % inbox_uids[0], data[0]) is not None, f"{data}")
typ, data = imap.uid("MOVE", str(inbox_uids[1]), "Trash")
moved = imap.response("EXPUNGE")[1]
check("UID MOVE: EXPUNGE of the moved message", typ == "OK" and moved == [b"2"], f"{typ} {data} {moved}")
check("MOVE to a missing mailbox: TRYCREATE", imap.copy("1", "Nowhere")[0] == "NO")
check("the moved message is in Trash", imap.status("Trash", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 1)"))
check("UNSUBSCRIBE", imap.unsubscribe("Trash")[0] == "OK" and not any(b"Trash" in l for l in imap.lsub()[1] if l))
check("SUBSCRIBE", imap.subscribe("Trash")[0] == "OK" and any(b"Trash" in l for l in imap.lsub()[1] if l))
check("CREATE makes the superior names", imap.create('"Projekte/Alt/Sehr alt"')[0] == "OK"
      and len(imap.list('""', '"Projekte*"')[1]) == 4)
check("RENAME takes the mailboxes below along", imap.rename("Projekte", '"Archiv 2026"')[0] == "OK"
      and len(imap.list('""', '"Archiv 2026*"')[1]) == 4 and imap.list('""', '"Projekte*"')[1] == [None])
typ, data = imap.delete('"Archiv 2026"')
check("DELETE of a mailbox with children: HASCHILDREN", typ == "NO" and b"HASCHILDREN" in data[0], f"{data}")
for name in ['"Archiv 2026/Alt/Sehr alt"', '"Archiv 2026/Alt"', '"Archiv 2026/Entw&APw-rfe"', '"Archiv 2026"']:
    check(f"DELETE {name}", imap.delete(name)[0] == "OK")
check("DELETE of a missing mailbox", imap.delete("Archiv")[0] == "NO")
# "INBOX" in any case names INBOX (RFC 9051 §5.1), for APPEND and COPY as for SELECT.
typ, data = imap.append("iNbOx", None, None, b"Subject: lower-case inbox\r\n\r\nbody\r\n")
check("APPEND to iNbOx lands in INBOX", typ == "OK" and b"APPENDUID" in data[0], f"{typ} {data}")
imap.select("Drafts")
typ, data = imap.copy("1", "inbox")
check("COPY to inbox lands in INBOX", typ == "OK" and b"COPYUID" in data[0], f"{typ} {data}")
check("INBOX holds both", imap.status("INBOX", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 3)"), f"{imap.status('INBOX', '(MESSAGES)')}")
check("CREATE inbox, DELETE INBOX", imap.create("inbox")[0] == "NO" and imap.delete("INBOX")[0] == "NO")
imap.close()
check("RENAME INBOX", imap.rename("INBOX", "Old-Inbox")[0] == "OK")
check("INBOX stays, empty", imap.select("INBOX")[1] == [b"0"] and imap.select("Old-Inbox")[1] == [b"3"])
imap.logout()

# --- IDLE: a delivery and another session's expunge arrive while idling, within a second or two ---
sock, reader = greeted()
sock.sendall(b'i1 LOGIN alice@example.org "correct horse battery"\r\ni2 SELECT INBOX\r\n')
while not reader.readline().startswith(b"i2 "):
    pass
sock.sendall(b"i3 IDLE\r\n")
check("IDLE continuation", reader.readline().startswith(b"+ "))
started = time.monotonic()
send("while idling")
line = reader.readline()
check("EXISTS during IDLE", line == b"* 1 EXISTS\r\n", f"{line!r}")
delivered_after = time.monotonic() - started
line = reader.readline()
check("then RECENT: the idling session is the first told (rev1)", line == b"* 1 RECENT\r\n", f"{line!r}")
other = session()
other.select("INBOX")
other.store("1", "+FLAGS", "\\Deleted")
other.expunge()
other.logout()
lines = [reader.readline(), ]
if lines[0].startswith(b"* 1 FETCH"):
    lines.append(reader.readline())
check("FETCH FLAGS / EXPUNGE during IDLE", lines[-1] == b"* 1 EXPUNGE\r\n", f"{lines!r}")
sock.sendall(b"DONE\r\n")
check("DONE ends IDLE", reader.readline().startswith(b"i3 OK"), f"{delivered_after:.1f} s")
sock.sendall(b"i4 IDLE\r\n")
reader.readline()
sock.sendall(b"NOPE\r\n")
check("IDLE ended by something else than DONE: BAD", reader.readline().startswith(b"i4 BAD"))
reader.close()
sock.close()

# --- Before login: a non-synchronising literal over 8 KiB ends the connection ---
sock, reader = greeted()
sock.sendall(b"a LOGIN {30000000+}\r\n")
answer = reader.readline()
check("a 30 MB non-synchronising literal before login: BYE", answer.startswith(b"* BYE"), f"{answer!r}")
check("... and the connection closes", reader.readline() == b"")
reader.close()
sock.close()
# Before login a literal holds a user name or a password: 8 KiB at most, so that unknown peers cannot
# make the server hold their data (a larger synchronising one is refused without +).
sock, reader = greeted()
sock.sendall(b"a2 LOGIN {30000000}\r\n")
answer = reader.readline()
check("a 30 MB literal before login: BAD without +", answer.startswith(b"a2 BAD"), f"{answer!r}")
sock.sendall(b"a3 LOGIN {8193}\r\n")
answer = reader.readline()
check("a literal one octet over 8 KiB before login: BAD without +", answer.startswith(b"a3 BAD"), f"{answer!r}")
sock.sendall(b'a4 ID ("name" {8192}\r\n')
check("a literal of 8 KiB before login gets +", reader.readline().startswith(b"+"))
sock.sendall(b"n" * 8192 + b")\r\n")
# Read and parsed: an ID value of 8 KiB is past RFC 2971's 1,024 octets, which the answer names.
answer = reader.readline()
check("... and is read", answer.startswith(b"a4 BAD") and b"1024" in answer, f"{answer!r}")
reader.close()
sock.close()

# --- Bad input: BAD, NO [TOOBIG] without +, and the session goes on ---
sock, reader = greeted()


def command(text):
    sock.sendall(text)
    lines = []
    while True:
        line = reader.readline()
        lines.append(line)
        if not line or not line.startswith(b"*"):
            return lines


sock.sendall(b"* NOOP\r\n")
check("tag *", reader.readline().startswith(b"* BAD"))
sock.sendall(b"a LOGIN alice@example.org {99999999999}\r\n")
check("huge literal before login: BAD before any +", reader.readline().startswith(b"a BAD"))
check("still usable", command(b"b NOOP\r\n")[-1].startswith(b"b OK"))
sock.sendall(b'c LOGIN {17}\r\n')
check("synchronising literal gets +", reader.readline().startswith(b"+"))
sock.sendall(b'alice@example.org "correct horse battery"\r\n')
check("LOGIN with a literal", reader.readline().startswith(b"c OK"))
check("FETCH without SELECT", command(b"d FETCH 1 FLAGS\r\n")[-1].startswith(b"d BAD"))
sock.sendall(b"d2 APPEND Drafts {20000}\r\n")
check("after login a literal over 8 KiB gets +", reader.readline().startswith(b"+"))
answer = command(b"Subject: large\r\n\r\n" + b"x" * (20000 - 19) + b"\r\n")
check("... and APPENDs", answer[-1].startswith(b"d2 OK"), f"{answer!r}")
sock.sendall(b"d3 APPEND Drafts {99999999999}\r\n")
check("after login a literal over APPENDLIMIT: NO [TOOBIG] before any +", reader.readline().startswith(b"d3 NO [TOOBIG]"))
command(b"e SELECT INBOX\r\n")
check("FETCH 0", command(b"f FETCH 0 FLAGS\r\n")[-1].startswith(b"f BAD"))
check("FETCH 4294967296", command(b"g FETCH 4294967296 FLAGS\r\n")[-1].startswith(b"g BAD"))
check("quoted string with NUL", command(b'h SELECT "IN\x00BOX"\r\n')[-1].startswith(b"h BAD"))
check("SELECT ../ path", command(b'i SELECT "INBOX/../../bob/INBOX"\r\n')[-1].startswith(b"i NO"))
check("unknown command", command(b"j XYZZY\r\n")[-1].startswith(b"j BAD"))
check("STARTTLS after login", command(b"j2 STARTTLS\r\n")[-1].startswith(b"j2 BAD"))
# LIST wildcards are the only specials; _ and % in names match only themselves.
for name in (b"a_b", b"axb", b"100%"):
    command(b'c1 CREATE "' + name + b'"\r\n')
listed = command(b'l1 LIST "" "a_b"\r\n')
check("LIST a_b matches only a_b", len(listed) == 2 and listed[0].endswith(b'"a_b"\r\n'), f"{listed!r}")
listed = command(b'l2 LIST "" "100*"\r\n')
check("LIST 100*", len(listed) == 2 and listed[0].endswith(b'"100%"\r\n'), f"{listed!r}")
# LIST-EXTENDED and LIST-STATUS (RFC 5258, RFC 5819; both part of IMAP4rev2).
command(b'c2 CREATE "Team/Reports"\r\n')
command(b'c3 SUBSCRIBE "Team/Reports"\r\n')
command(b'c4 UNSUBSCRIBE "Team"\r\n')
listed = command(b'l3 LIST (SUBSCRIBED RECURSIVEMATCH) "" "Team*"\r\n')
check("LIST (SUBSCRIBED RECURSIVEMATCH): an unsubscribed parent with CHILDINFO, the subscribed child",
      listed[:-1] == [b'* LIST (\\HasChildren) "/" "Team" ("CHILDINFO" ("SUBSCRIBED"))\r\n',
                      b'* LIST (\\HasNoChildren \\Subscribed) "/" "Team/Reports"\r\n'], f"{listed!r}")
listed = command(b'l4 LIST "" "INBOX" RETURN (STATUS (MESSAGES UIDNEXT UNSEEN))\r\n')
status = command(b'l5 STATUS INBOX (MESSAGES UIDNEXT UNSEEN)\r\n')
check("LIST RETURN (STATUS ...): the mailbox's STATUS right after its LIST line",
      len(listed) == 3 and listed[0].startswith(b"* LIST ") and listed[1] == status[0] and b"MESSAGES" in status[0],
      f"{listed!r} {status!r}")
listed = command(b'l6 LIST (SPECIAL-USE) "" "*"\r\n')
check("LIST (SPECIAL-USE): only the special-use mailboxes",
      len(listed) == 6 and all(any(use in l for use in (b"\\Drafts", b"\\Sent", b"\\Trash", b"\\Junk", b"\\Archive"))
                               for l in listed[:-1]), f"{listed!r}")
check("LIST (RECURSIVEMATCH) alone is BAD", command(b'l7 LIST (RECURSIVEMATCH) "" "*"\r\n')[-1].startswith(b"l7 BAD"))
check("LIST with an unknown return option is BAD", command(b'l8 LIST "" "*" RETURN (BOGUS)\r\n')[-1].startswith(b"l8 BAD"))
# CREATE-SPECIAL-USE (RFC 6154 §3): the attribute is kept and listed; what the store cannot hold is NO [USEATTR].
check("CREATE-SPECIAL-USE advertised", b"CREATE-SPECIAL-USE" in command(b"cap CAPABILITY\r\n")[0])
check("CREATE with USE (\\Archive)", command(b'u1 CREATE "Old mail" (USE (\\Archive))\r\n')[-1].startswith(b"u1 OK"))
listed = command(b'u2 LIST "" "Old mail"\r\n')
check("the new mailbox is listed with \\Archive", len(listed) == 2 and b"\\Archive" in listed[0], f"{listed!r}")
for tag, use in ((b"u3", b"\\All"), (b"u4", b"\\Sent \\Junk"), (b"u5", b"\\Bogus")):
    answer = command(tag + b' CREATE "Special ' + tag + b'" (USE (' + use + b'))\r\n')[-1]
    check("CREATE with USE (" + use.decode() + "): NO [USEATTR]", answer.startswith(tag + b" NO [USEATTR]"), f"{answer!r}")
listed = command(b'u6 LIST "" "Special*"\r\n')
check("a refused CREATE-SPECIAL-USE creates nothing", len(listed) == 1, f"{listed!r}")
# UTF8=ACCEPT (RFC 6855): APPEND's `UTF8 (~{n}...)` form stores the bytes as sent.
check("ENABLE UTF8=ACCEPT", command(b"e8 ENABLE UTF8=ACCEPT\r\n")[0] == b"* ENABLED UTF8=ACCEPT\r\n")
utf8_message = "From: z@example.org\r\nSubject: Caf\u00e9 \u2615\r\n\r\nna\u00efve\r\n".encode()
answer = command(b"a8 APPEND INBOX UTF8 (~{%d+}\r\n" % len(utf8_message) + utf8_message + b")\r\n")
check("APPEND UTF8 (~{n+}...)", answer[-1].startswith(b"a8 OK [APPENDUID"), f"{answer!r}")
appended_uid = answer[-1].split(b"]")[0].split()[-1]
command(b"s8 SELECT INBOX\r\n")
sock.sendall(b"f8 UID FETCH " + appended_uid + b" BODY.PEEK[]\r\n")
fetched = reader.readline()
body = reader.read(int(fetched.rsplit(b"{", 1)[1][:-3])) if fetched.endswith(b"}\r\n") else b""
rest = [reader.readline() for _ in range(2)]
check("... and FETCH gives the UTF-8 bytes back", body == utf8_message and rest[0] == b")\r\n" and rest[1].startswith(b"f8 OK"),
      f"{fetched!r} {body!r} {rest!r}")
# M13: a message with NUL (APPENDed as a literal8) is kept byte-exact; a plain literal never carries NUL
# (RFC 9051 §4.3), so BODY[] shows each as 0x80 at the same length, and BINARY[] gives the exact bytes.
nul_message = b"Subject: nul\r\n\r\nbefore\x00after\r\n"
command(b"n0 CREATE Nul\r\n")
answer = command(b"n1 APPEND Nul ~{%d+}\r\n" % len(nul_message) + nul_message + b"\r\n")
check("APPEND of a literal8 with NUL", answer[-1].startswith(b"n1 OK [APPENDUID"), f"{answer!r}")
check("a plain literal with NUL is BAD", command(b"n2 APPEND Nul {%d+}\r\n" % len(nul_message) + nul_message + b"\r\n")[-1]
      .startswith(b"n2 BAD"))
command(b"n3 SELECT Nul\r\n")


def fetch_literal(text):
    sock.sendall(text)
    line = reader.readline()
    data = reader.read(int(line.rsplit(b"{", 1)[1][:-3])) if line.endswith(b"}\r\n") else b""
    return line, data, [reader.readline() for _ in range(2)]


line, body, rest = fetch_literal(b"n4 FETCH 1 (RFC822.SIZE BODY.PEEK[])\r\n")
check("BODY[] of a message with NUL: 0x80 in its place, same size (M13)",
      body == nul_message.replace(b"\x00", b"\x80") and b"RFC822.SIZE %d " % len(nul_message) in line
      and rest[1].startswith(b"n4 OK"), f"{line!r} {body!r} {rest!r}")
line, body, rest = fetch_literal(b"n5 FETCH 1 (BINARY.PEEK[])\r\n")
check("BINARY[] of it: the exact bytes as a literal8 (M13)", body == nul_message and b"~{" in line
      and rest[1].startswith(b"n5 OK"), f"{line!r} {body!r} {rest!r}")
check("LOGOUT", command(b"k LOGOUT\r\n")[-1].startswith(b"k OK"))
reader.close()
sock.close()

# A fourth invalid command before login ends the connection.
sock, reader = greeted()
sock.sendall(b"a FOO\r\nb FOO\r\nc FOO\r\nd FOO\r\n")
replies = [reader.readline() for _ in range(5)]
check("4 invalid commands before login: BYE", replies[3].startswith(b"d BAD") and replies[4].startswith(b"* BYE")
      and reader.readline() == b"", f"{replies!r}")
reader.close()
sock.close()

# --- One user's logged-in connections are limited (imap.maxConnectionsPerUser = 6 in this suite) ---
extra, refused = [], None
for _ in range(10):
    candidate = imaplib.IMAP4_SSL(HOST, imaps_port, ssl_context=context, timeout=15)
    try:
        candidate.login(USER, PASSWORD)
        extra.append(candidate)
    except imaplib.IMAP4.error as error:
        refused = str(error)
        candidate.logout()
        break
check("one connection too many: NO [LIMIT], and the others work", refused is not None and "[LIMIT]" in refused
      and 1 <= len(extra) <= 6 and extra[0].noop()[0] == "OK", f"{refused} {len(extra)}")
extra.pop().logout()
time.sleep(0.3)
again = session()
check("a connection freed is a login allowed again", again.noop()[0] == "OK")
for open_session in extra + [again]:
    open_session.logout()

# --- AUTHENTICATE cancelled, with bad base64, and with a 1 MB initial response; then a good one ---
sock, reader = greeted()
sock.sendall(b"a AUTHENTICATE PLAIN\r\n")
challenge = reader.readline()
sock.sendall(b"*\r\n")
check("AUTHENTICATE cancelled with *: BAD", challenge.startswith(b"+") and reader.readline().startswith(b"a BAD"))
sock.sendall(b"b AUTHENTICATE PLAIN !!!notbase64\r\n")
check("AUTHENTICATE with invalid base64: BAD", reader.readline().startswith(b"b BAD"))
sock.sendall(b"c AUTHENTICATE PLAIN " + b"A" * 1_000_000 + b"\r\n")
check("a 1 MB SASL-IR: BAD, bounded", reader.readline().startswith(b"c BAD"))
good = base64.b64encode(b"\0" + USER.encode() + b"\0" + PASSWORD.encode())
sock.sendall(b"d AUTHENTICATE PLAIN " + good + b"\r\n")
check("the session goes on: a good AUTHENTICATE works", reader.readline().startswith(b"d OK"))
sock.sendall(b"e LOGOUT\r\n")
reader.close()
sock.close()

# --- One session expunges a message another session is reading (RFC 9051 §7.5.1) ---
first, second = session(), session()
check("CREATE Shared23", first.create("Shared23")[0] == "OK")
for n in (1, 2, 3):
    first.append("Shared23", None, None, b"Subject: shared %d\r\n\r\nbody\r\n" % n)
first.select("Shared23")
second.select("Shared23")
first.store("1", "+FLAGS", "\\Deleted")
first.expunge()
typ, data = second.fetch("1:3", "(UID FLAGS)")
check("FETCH of an expunged message: no EXPUNGE in the middle, the others answered", typ in ("OK", "NO")
      and second.response("EXPUNGE")[1] == [None] and any(b"UID 3" in line for line in data if isinstance(line, bytes)), f"{typ} {data}")
typ, _ = second.store("2", "+FLAGS", "(\\Seen)")
typ2, found = second.search(None, "ALL")
check("... nor during STORE and SEARCH, whose numbers still count it", typ == "OK" and typ2 == "OK"
      and second.response("EXPUNGE")[1] == [None] and found[0].split()[-1] == b"3", f"{typ} {typ2} {found}")
second.noop()
check("... the EXPUNGE comes at the next NOOP", second.response("EXPUNGE")[1] == [b"1"])
typ, data = second.fetch("1", "(UID FLAGS)")
check("... and sequence numbers have moved on", typ == "OK" and b"UID 2" in data[0] and b"\\Seen" in data[0], f"{data}")
first.logout()
second.logout()

# --- A session's own flag changes are not read back from the feed; another session's still reach it ---
first, second = session(), session()
check("CREATE Flags2", first.create("Flags2")[0] == "OK")
for n in (1, 2):
    first.append("Flags2", None, None, b"Subject: flags %d\r\n\r\nbody\r\n" % n)
first.select("Flags2")
second.select("Flags2")
second.store("1", "+FLAGS", "(\\Answered)")
typ, data = first.store("2", "+FLAGS", "(\\Flagged)")
check("a STORE also reports the flag change another session made before it",
      typ == "OK" and any(line.startswith(b"1 ") and b"\\Answered" in line for line in data)
      and any(line.startswith(b"2 ") and b"\\Flagged" in line for line in data), f"{data}")
typ, data = first.store("2", "-FLAGS", "(\\Flagged)")
check("... its own next STORE reports only its own message", typ == "OK" and len(data) == 1 and data[0].startswith(b"2 "),
      f"{data}")
typ, data = first.fetch("1", "(BODY[TEXT])")
first.noop()
check("... and no command repeats its own changes (STORE, FETCH setting \\Seen)", first.response("FETCH")[1] == [None],
      f"{first.untagged_responses}")
second.noop()
typ, data = second.response("FETCH")
check("the other session hears them at its next command",
      any(line.startswith(b"1 ") and b"\\Seen" in line and b"\\Answered" in line for line in data if line), f"{data}")
first.logout()
second.logout()

# --- A mailbox deleted while another session has it selected (or idles in it): EXPUNGEs, then BYE ---
first, second = session(), session()
check("CREATE Doomed", first.create("Doomed")[0] == "OK" and first.create("Doomed2")[0] == "OK")
for n in (1, 2):
    first.append("Doomed", None, None, b"Subject: doomed %d\r\n\r\nbody\r\n" % n)
second.select("Doomed")
idler, idle_reader = logged_in(imaps_port, context, "alice@example.org", "correct horse battery")
idler.sendall(b"d2 SELECT Doomed2\r\nd3 IDLE\r\n")
while not idle_reader.readline().startswith(b"+ "):
    pass
check("DELETE of a mailbox selected elsewhere", first.delete("Doomed")[0] == "OK" and first.delete("Doomed2")[0] == "OK")
try:
    second.noop()
    check("the selecting session is told: BYE", False, "NOOP answered with no BYE")
except imaplib.IMAP4.abort as error:
    check("the selecting session is told: BYE", "deleted" in str(error), f"{error}")
check("... after the EXPUNGEs of its two messages", sorted(second.untagged_responses.get("EXPUNGE", [])) == [b"1", b"2"],
      f"{second.untagged_responses}")
line = idle_reader.readline()
check("the idling session hears BYE at once", line == b"* BYE The selected mailbox was deleted\r\n", f"{line!r}")
check("... and the connection is closed", idle_reader.readline() == b"")
idle_reader.close()
idler.close()
first.logout()

# --- M11: odd addresses in ENVELOPE (empty, a lone quote, a group, ""@x, a literal, 10,000 commas) ---
odd_session = session()
check("CREATE Odd", odd_session.create("Odd")[0] == "OK")
odd = (b'From: <>\r\nSender: "\r\nReply-To: undisclosed-recipients:;\r\nTo: ""@x, a@[1.2.3.4],' + b"," * 10_000
       + b' b@example.org\r\nCc: "unterminated <c@example.org>\r\nSubject: odd\r\n\r\nbody\r\n')
odd_session.append("Odd", None, None, odd)
odd_session.select("Odd")
typ, data = odd_session.fetch("1", "(ENVELOPE BODYSTRUCTURE)")
envelope = data[0] if typ == "OK" and data else b""
envelope = envelope[0] + envelope[1] if isinstance(envelope, tuple) else envelope
check("M11: ENVELOPE of odd addresses is built, the good ones kept", typ == "OK" and b'"b" "example.org"' in envelope
      and b'"[1.2.3.4]"' in envelope and b"undisclosed-recipients" in envelope, f"{typ} {envelope[:400]!r}")
check("... and the session goes on", odd_session.noop()[0] == "OK")
odd_session.logout()

# --- \Recent (RFC 3501 §2.3.2, rev1 only): recent in exactly one session, across sessions ---
first, second, third = session(), session(), session()
check("CREATE RecentBox", first.create("RecentBox")[0] == "OK")
for n in (1, 2):
    first.append("RecentBox", None, None, b"Subject: recent %d\r\n\r\nnew\r\n" % n)
check("STATUS RECENT counts what no session has seen", first.status("RecentBox", "(RECENT)")[1][0].endswith(b"(RECENT 2)"))
third.select("RecentBox", readonly=True)
check("EXAMINE shows them recent ...", third.response("RECENT")[1] == [b"2"])
check("... and leaves them for the next session", first.status("RecentBox", "(RECENT)")[1][0].endswith(b"(RECENT 2)"))
second.select("RecentBox")
check("SELECT: * 2 RECENT", second.response("RECENT")[1] == [b"2"])
typ, data = second.fetch("1:*", "(FLAGS)")
check("FETCH FLAGS shows \\Recent", typ == "OK" and all(b"\\Recent" in line for line in data), f"{data}")
check("SEARCH RECENT / NEW / OLD", second.search(None, "RECENT")[1] == [b"1 2"] and second.search(None, "NEW")[1] == [b"1 2"]
      and second.search(None, "OLD")[1] == [b""])
first.select("RecentBox")
check("a later SELECT: * 0 RECENT", first.response("RECENT")[1] == [b"0"])
typ, data = first.fetch("1:*", "(FLAGS)")
check("... and no \\Recent flag", typ == "OK" and not any(b"\\Recent" in line for line in data), f"{data}")
third.append("RecentBox", None, None, b"Subject: recent 3\r\n\r\nnewer\r\n")
first.noop()
check("a message arriving while selected: EXISTS, then RECENT for the first session told",
      first.response("EXISTS")[1][-1:] == [b"3"] and first.response("RECENT")[1][-1:] == [b"1"])
second.noop()
check("... the other session gets it without \\Recent", second.response("EXISTS")[1][-1:] == [b"3"]
      and second.response("RECENT")[1][-1:] == [b"2"] and b"\\Recent" not in second.fetch("3", "(FLAGS)")[1][0])
check("STATUS RECENT 0 once claimed", third.status("RecentBox", "(RECENT)")[1][0].endswith(b"(RECENT 0)"))
third.append("RecentBox", None, None, b"Subject: recent 4\r\n\r\nnewest\r\n")
third.close()
typ, _ = third._simple_command("ENABLE", "IMAP4rev2")
third.select("RecentBox")
check("after ENABLE IMAP4rev2 no RECENT and no claim", typ == "OK" and third.response("RECENT")[1] == [None]
      and third.status("RecentBox", "(RECENT)")[1][0].endswith(b"(RECENT 1)"))
for open_session in (first, second, third):
    open_session.logout()

print("all checks passed")
