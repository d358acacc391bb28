#!/usr/bin/env python3
"""IMAP extensions end to end: each check talks to the server as a client of that extension does, with
Python's imaplib and zlib (implementations nobody here wrote) and raw IMAPS where imaplib has no verb.

usage: imap_extensions.py IMAPS_PORT CA_FILE SERVER_PID ADMIN_PORT ADMIN_TOKEN [CHECK...]
The account alice@example.org / "correct horse battery" exists. Prints "ok <check>" per check and
"all checks passed" at the end; exits 1 at the first failure.
"""
import imaplib
import os
import re
import socket
import ssl
import sys
import time
import zlib

from imap_raw import fetch, imap_session, logged_in, run_checks
from smtp_raw import admin_api

imaps_port, ca_file, server_pid, admin_port, admin_token = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
USER, PASSWORD = "alice@example.org", "correct horse battery"
context = ssl.create_default_context(cafile=ca_file)
context.check_hostname = False


def expect(condition, what):
    if not condition:
        raise SystemExit(f"FAIL: {what}")


class Deflated:
    """A connection after COMPRESS DEFLATE (RFC 4978): one raw DEFLATE stream each way, made and read by
    Python's zlib, with a sync flush after each thing sent."""

    def __init__(self, sock):
        self.sock = sock
        self.deflater = zlib.compressobj(wbits=-15)
        self.inflater = zlib.decompressobj(wbits=-15)
        self.pending = b""
        self.received_compressed = 0

    def compress(self, data):
        return self.deflater.compress(data) + self.deflater.flush(zlib.Z_SYNC_FLUSH)

    def send(self, data):
        self.sock.sendall(self.compress(data))

    def _more(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.received_compressed += len(chunk)
        self.pending += self.inflater.decompress(chunk)

    def readline(self):
        while b"\r\n" not in self.pending:
            self._more()
        line, self.pending = self.pending.split(b"\r\n", 1)
        return line + b"\r\n"

    def read(self, count):
        while len(self.pending) < count:
            self._more()
        data, self.pending = self.pending[:count], self.pending[count:]
        return data

    def answer(self, tag):
        """The untagged lines (literals inline) up to the tagged line, and that line."""
        untagged = b""
        while True:
            line = self.readline()
            if line.startswith(tag.encode() + b" "):
                return untagged, line
            untagged += line
            literal = re.search(rb"\{(\d+)\}\r\n$", line)
            if literal:
                untagged += self.read(int(literal.group(1)))

    def command(self, tag, text):
        self.send(f"{tag} {text}\r\n".encode())
        return self.answer(tag)


def compressed_session(pipelined=b""):
    """A raw IMAPS connection, logged in, after COMPRESS DEFLATE; `pipelined` goes compressed in the
    same write as the command."""
    sock, reader = logged_in(imaps_port, context, USER, PASSWORD)
    connection = Deflated(sock)
    sock.sendall(b"z COMPRESS DEFLATE\r\n" + (connection.compress(pipelined) if pipelined else b""))
    done = reader.readline()
    expect(done.startswith(b"z OK"), f"COMPRESS DEFLATE: {done!r}")
    return connection


def compress():
    """COMPRESS=DEFLATE (RFC 4978): after login only; both directions compressed from the OK on,
    commands pipelined behind COMPRESS inflated in order, literals of megabytes both ways, a second
    COMPRESS refused, a stream of an endless line answered as a line too long and the session going
    on, a corrupt stream ending only its own connection."""
    imap = imap_session(imaps_port, context, USER, PASSWORD)
    expect(b"COMPRESS=DEFLATE" in imap.capability()[1][0].split(), f"capabilities: {imap.capability()!r}")
    imap.create("Packed")

    # Not before login; an unknown mechanism is BAD.
    sock = context.wrap_socket(socket.create_connection(("127.0.0.1", imaps_port), timeout=30),
                               server_hostname="localhost")
    reader = sock.makefile("rb")
    greeting = reader.readline()
    expect(b"COMPRESS=DEFLATE" not in greeting, f"advertised before login: {greeting!r}")
    _, done = fetch(sock, reader, "a", "COMPRESS DEFLATE")
    expect(done.startswith(b"a BAD"), f"COMPRESS before login: {done!r}")
    sock.close()
    sock, reader = logged_in(imaps_port, context, USER, PASSWORD)
    _, done = fetch(sock, reader, "b", "COMPRESS LZMA")
    expect(done.startswith(b"b BAD"), f"unknown mechanism: {done!r}")
    sock.close()

    # A command pipelined behind COMPRESS, already compressed, is answered compressed.
    connection = compressed_session(b"p NOOP\r\n")
    untagged, done = connection.answer("p")
    expect(done.startswith(b"p OK"), f"pipelined NOOP: {done!r}")
    untagged, done = connection.command("c", "CAPABILITY")
    expect(done.startswith(b"c OK") and b"IMAP4rev1" in untagged, f"CAPABILITY: {untagged!r} {done!r}")
    untagged, done = connection.command("d", "COMPRESS DEFLATE")
    expect(done.startswith(b"d NO [COMPRESSIONACTIVE]"), f"second COMPRESS: {done!r}")

    # Large literals both ways: a synchronising one (wait for "+") and a LITERAL+ one, read back whole.
    text = b"".join(b"Line %06d of a long message that compresses well.\r\n" % n for n in range(60_000))
    noise = os.urandom(1_500_000).hex().encode()
    noise = b"\r\n".join(noise[i:i + 76] for i in range(0, len(noise), 76))
    bodies = []
    for n, body in enumerate((text, noise)):
        message = b"Subject: packed %d\r\n\r\n" % n + body + b"\r\n"
        bodies.append(message)
        if n == 0:
            connection.send(b"s APPEND Packed {%d}\r\n" % len(message))
            line = connection.readline()
            expect(line.startswith(b"+"), f"no continuation: {line!r}")
            connection.send(message + b"\r\n")
            _, done = connection.answer("s")
        else:
            connection.send(b"s APPEND Packed {%d+}\r\n" % len(message) + message + b"\r\n")
            _, done = connection.answer("s")
        expect(done.startswith(b"s OK"), f"APPEND {n}: {done!r}")
    _, done = connection.command("x", "SELECT Packed")
    expect(done.startswith(b"x OK"), f"SELECT: {done!r}")
    before = connection.received_compressed
    untagged, done = connection.command("f", "FETCH 1:2 BODY.PEEK[]")
    expect(done.startswith(b"f OK"), f"FETCH: {done!r}")
    for message in bodies:
        expect(message in untagged, f"a message came back different ({len(untagged)} octets)")
    received = connection.received_compressed - before
    expect(received < len(bodies[0]) // 5 + len(bodies[1]), f"{received} octets received for {sum(map(len, bodies))}: not compressed")

    # An endless line (70 MB inflated from some 70 kB) is a line too long, and the session goes on.
    chunk = b"a" * 1_048_576
    # Inflating 70 MB takes a debug build longer than the usual 30 s bound while the whole suite runs.
    connection.sock.settimeout(120)
    connection.send(b"l NOOP ")
    for _ in range(70):
        connection.send(chunk)
    connection.send(b"\r\n")
    line = connection.readline()
    expect(b"BAD" in line and b"too long" in line.lower(), f"endless line: {line!r}")
    untagged, done = connection.command("n", "NOOP")
    expect(done.startswith(b"n OK"), f"NOOP after the long line: {done!r}")

    # A corrupt stream closes its own connection only.
    broken = compressed_session()
    broken.sock.sendall(b"\xff" * 64)
    try:
        while True:
            broken.readline()
    except (EOFError, ConnectionError, zlib.error):
        pass
    untagged, done = connection.command("m", "NOOP")
    expect(done.startswith(b"m OK"), f"NOOP beside a corrupt stream: {done!r}")
    connection.command("o", "LOGOUT")
    imap.logout()


def memory_kb(field):
    with open(f"/proc/{server_pid}/status") as status:
        return int(re.search(rf"^{field}:\s+(\d+) kB", status.read(), re.M).group(1))


def compress_memory():
    """A compressed APPEND of 48 MB that deflates to some 50 kB arrives in a few reads; the server
    inflates it a piece at a time as the message is stored, so its memory grows by far less than the
    message (inflating each read whole would hold tens of megabytes)."""
    imap = imap_session(imaps_port, context, USER, PASSWORD)
    imap.create("Bomb")
    imap.logout()
    connection = compressed_session()
    line = b"All work and no play makes a dull message.\r\n"
    message = b"Subject: dull\r\n\r\n" + line * (48_000_000 // len(line))
    packed = connection.compress(b"a APPEND Bomb {%d+}\r\n" % len(message) + message + b"\r\n")
    before = memory_kb("VmHWM")
    connection.sock.sendall(packed)
    _, done = connection.answer("a")
    expect(done.startswith(b"a OK"), f"APPEND: {done!r}")
    grown_mb = (memory_kb("VmHWM") - before) / 1024
    expect(grown_mb < 8, f"the server's peak RSS grew by {grown_mb:.0f} MB for {len(packed)} compressed octets")
    untagged, done = connection.command("s", "STATUS Bomb (MESSAGES SIZE)")
    expect(b"MESSAGES 1" in untagged and b"SIZE %d" % len(message) in untagged, f"STATUS: {untagged!r}")
    print(f"peak RSS grew {grown_mb:.1f} MB for {len(packed)} compressed octets", flush=True)


def configured_mailboxes():
    """With accounts.mailboxes = Brouillons=drafts,Envoyés=sent,Notes an account made by the admin API
    has INBOX and those, with those special uses (RFC 6154), and no others."""
    imap = imap_session(imaps_port, context, USER, PASSWORD)
    typ, listed = imap.list()
    expect(typ == "OK", f"LIST: {typ} {listed!r}")
    found = {}
    for line in listed:
        match = re.match(rb'\(([^)]*)\) "/" (.+)$', line)
        expect(match, f"LIST line: {line!r}")
        attributes = {a for a in match.group(1).decode().split() if a in ("\\Drafts", "\\Sent", "\\Trash", "\\Junk", "\\Archive")}
        found[match.group(2).decode().strip('"')] = attributes
    wanted = {"INBOX": set(), "Brouillons": {"\\Drafts"}, "Envoy&AOk-s": {"\\Sent"}, "Notes": set()}
    expect(found == wanted, f"mailboxes {found!r}, not {wanted!r}")
    imap.logout()


def objectid():
    """OBJECTID (RFC 8474): a mailbox's id from CREATE, SELECT, STATUS and LIST-STATUS, kept through
    RENAME and never given to another mailbox; a message's EMAILID kept through COPY and MOVE (and in
    every FETCH path), SEARCH EMAILID finding its copies; THREADID NIL, SEARCH THREADID nothing."""
    imap = imap_session(imaps_port, context, USER, PASSWORD)
    expect(b"OBJECTID" in imap.capability()[1][0].split(), f"capabilities: {imap.capability()!r}")
    sock, reader = logged_in(imaps_port, context, USER, PASSWORD)

    def command(tag, text, ok=True):
        untagged, done = fetch(sock, reader, tag, text)
        expect(done.startswith(tag.encode() + (b" OK" if ok else b" BAD")), f"{text}: {done!r}")
        return untagged, done

    _, done = command("c", "CREATE Ids")
    created = re.search(rb"\[MAILBOXID \(([A-Za-z0-9_-]+)\)\]", done)
    expect(created, f"CREATE without MAILBOXID: {done!r}")
    mailbox_id = created.group(1)
    untagged, _ = command("s", "STATUS Ids (MAILBOXID MESSAGES)")
    expect(b"MAILBOXID (%s)" % mailbox_id in untagged, f"STATUS: {untagged!r}")
    command("r", "RENAME Ids Renamed")
    untagged, _ = command("s2", "STATUS Renamed (MAILBOXID)")
    expect(b"MAILBOXID (%s)" % mailbox_id in untagged, f"the id changed with RENAME: {untagged!r}")
    untagged, _ = command("l", 'LIST "" "Renamed" RETURN (STATUS (MAILBOXID))')
    expect(b"MAILBOXID (%s)" % mailbox_id in untagged, f"LIST-STATUS: {untagged!r}")
    command("d", "DELETE Renamed")
    _, done = command("c2", "CREATE Renamed")
    expect(b"MAILBOXID (%s)" % mailbox_id not in done, f"a new mailbox got the deleted one's id: {done!r}")

    command("c3", "CREATE Copies")
    large = b"".join(b"line %05d of a message\r\n" % n for n in range(3000))
    for n in range(2):
        typ, _ = imap.append("Renamed", None, None, b"Subject: id %d\r\n\r\n" % n + large)
        expect(typ == "OK", "APPEND")
    untagged, done = command("x", "SELECT Renamed")
    expect(b"[MAILBOXID (" in untagged, f"SELECT without MAILBOXID: {untagged!r}")
    untagged, _ = command("f", "FETCH 1:2 (EMAILID THREADID)")
    ids = re.findall(rb"EMAILID \(([A-Za-z0-9_-]+)\)", untagged)
    expect(len(ids) == 2 and ids[0] != ids[1] and untagged.count(b"THREADID NIL") == 2, f"FETCH: {untagged!r}")
    untagged, _ = command("b", "FETCH 2 (EMAILID BODY.PEEK[])")
    expect(b"EMAILID (%s)" % ids[1] in untagged and large in untagged, "FETCH EMAILID with the body")
    command("k", "COPY 1 Copies")
    command("m", "MOVE 2 Copies")
    command("y", "SELECT Copies")
    untagged, _ = command("f2", "FETCH 1:2 (EMAILID)")
    expect(re.findall(rb"EMAILID \(([A-Za-z0-9_-]+)\)", untagged) == ids, f"ids after COPY and MOVE: {untagged!r}, not {ids!r}")
    untagged, _ = command("q", "UID SEARCH EMAILID %s" % ids[1].decode())
    found = re.search(rb"\* SEARCH ([\d ]*)", untagged)
    expect(found and len(found.group(1).split()) == 1, f"SEARCH EMAILID: {untagged!r}")
    untagged, _ = command("q2", "SEARCH OR EMAILID %s EMAILID %s" % (ids[0].decode(), ids[1].decode()))
    expect(b"* SEARCH 1 2" in untagged, f"SEARCH OR EMAILID: {untagged!r}")
    untagged, _ = command("t", "SEARCH THREADID T1")
    expect(re.search(rb"\* SEARCH\r\n", untagged), f"SEARCH THREADID: {untagged!r}")
    command("e", "SEARCH EMAILID M!1", ok=False)
    command("e2", "SEARCH EMAILID " + "M" * 256, ok=False)
    sock.close()
    imap.logout()


def savedate():
    """SAVEDATE (RFC 8514): when a message was filed in its mailbox (APPEND, COPY, MOVE), apart from
    its internal date; SAVEDBEFORE, SAVEDON, SAVEDSINCE on that day, SAVEDATESUPPORTED for all."""
    import datetime
    import time
    imap = imap_session(imaps_port, context, USER, PASSWORD)
    expect(b"SAVEDATE" in imap.capability()[1][0].split(), f"capabilities: {imap.capability()!r}")
    imap.create("Saved")
    imap.create("Later")
    typ, _ = imap.append("Saved", None, '"01-Jan-2001 10:00:00 +0000"', b"Subject: old\r\n\r\nold\r\n")
    expect(typ == "OK", "APPEND")
    imap.select("Saved")
    typ, data = imap.fetch("1", "(INTERNALDATE SAVEDATE)")
    line = data[0].decode()
    saved = re.search(r'SAVEDATE "([^"]+)"', line)
    expect('INTERNALDATE "01-Jan-2001 10:00:00 +0000"' in line and saved, f"FETCH: {line}")
    saved_at = datetime.datetime.strptime(saved.group(1), "%d-%b-%Y %H:%M:%S %z")
    now = datetime.datetime.now(datetime.timezone.utc)
    expect(abs((now - saved_at).total_seconds()) < 300, f"SAVEDATE {saved_at} is not now ({now})")
    today = now.strftime("%d-%b-%Y")
    for criteria, wanted in [(f"SAVEDON {today}", [b"1"]), (f"SAVEDSINCE {today}", [b"1"]), ("SAVEDBEFORE 2-Jan-2001", []),
                             ("SAVEDSINCE 1-Jan-2030", []), ("ON 1-Jan-2001", [b"1"]), ("SAVEDATESUPPORTED", [b"1"]),
                             (f"NOT SAVEDON {today}", [])]:
        typ, found = imap.search(None, criteria)
        expect(found[0].split() == wanted, f"SEARCH {criteria}: {found!r}")
    time.sleep(1.1)
    imap.copy("1", "Later")
    imap.select("Later")
    typ, data = imap.fetch("1", "(INTERNALDATE SAVEDATE)")
    copied = re.search(r'SAVEDATE "([^"]+)"', data[0].decode())
    copied_at = datetime.datetime.strptime(copied.group(1), "%d-%b-%Y %H:%M:%S %z")
    expect('INTERNALDATE "01-Jan-2001 10:00:00 +0000"' in data[0].decode() and copied_at > saved_at,
           f"the copy's SAVEDATE {copied_at} is not later than {saved_at}: {data!r}")
    try:
        imap.search(None, "SAVEDON yesterday")
        expect(False, "a bad date was accepted")
    except imaplib.IMAP4.error as error:
        expect("BAD" in str(error), f"bad date: {error}")
    imap.logout()


def preview():
    """PREVIEW (RFC 8970): the start of the text a reader sees first, on one line of at most 256
    characters: the plain text of an alternative, the text of HTML (no style or script, references
    decoded), past an attached file, decoded from base64 and Latin-1; empty for a message with no text;
    PREVIEW (LAZY) too; reading it does not set \\Seen."""
    import base64
    imap = imap_session(imaps_port, context, USER, PASSWORD)
    expect(b"PREVIEW" in imap.capability()[1][0].split(), f"capabilities: {imap.capability()!r}")
    imap.create("Previews")
    long_text = "Hello   there,\r\n\r\n\tthis is " + "a long line of words " * 30 + "\r\n"
    messages = [
        b"Subject: plain\r\n\r\n" + long_text.encode(),
        b"Subject: alternative\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nThe plain words.\r\n--b\r\nContent-Type: text/html\r\n\r\n"
        b"<p>The HTML words.</p>\r\n--b--\r\n",
        b"Subject: html\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><head><style>p { color: red }</style><script>var x = 1 < 2;</script></head>"
        b"<body><!-- hidden --><p>Fish &amp; chips<br>for &lt;two&gt;&nbsp;&#233;t&#xE9;</p></body></html>\r\n",
        b"Subject: attached\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n"
        b"--m\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=notes.txt\r\n\r\nnot the body\r\n"
        b"--m\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode("Caf\u00e9 au lait".encode("latin-1")) + b"\r\n--m--\r\n",
        b"Subject: image\r\nMIME-Version: 1.0\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n",
    ]
    for message in messages:
        expect(imap.append("Previews", None, None, message)[0] == "OK", "APPEND")
    imap.select("Previews")
    words = " ".join(long_text.split())
    wanted = [words[:256], "The plain words.", "Fish & chips for <two> \u00e9t\u00e9", "Caf\u00e9 au lait", ""]
    for item in ("PREVIEW", "PREVIEW (LAZY)"):
        typ, data = imap.fetch("1:5", f"({item})")
        expect(typ == "OK", f"FETCH {item}: {data!r}")
        got = []
        for entry in data:
            if isinstance(entry, tuple):  # a literal: non-ASCII text
                got.append(entry[1].decode("utf-8"))
            elif entry != b")":
                quoted = re.search(rb'PREVIEW "((?:[^"\\]|\\.)*)"', entry)
                expect(quoted, f"PREVIEW answer: {entry!r}")
                got.append(re.sub(rb"\\(.)", rb"\1", quoted.group(1)).decode("utf-8"))
        expect(got == wanted, f"FETCH {item}: {got!r}, not {wanted!r}")
    typ, data = imap.fetch("1:5", "(FLAGS)")
    expect(all(b"\\Seen" not in entry for entry in data), f"PREVIEW set \\Seen: {data!r}")
    try:
        imap.fetch("1", "(PREVIEW (EAGER))")
        expect(False, "an unknown modifier was accepted")
    except imaplib.IMAP4.error as error:
        expect("BAD" in str(error), f"unknown modifier: {error}")
    imap.logout()


def multiappend():
    """MULTIAPPEND (RFC 3502): several messages in one APPEND, each with its flags and date, one of them
    large enough to arrive in pieces, filed in order under consecutive UIDs (APPENDUID with the set);
    over the quota none is filed; a missing mailbox is NO [TRYCREATE]; a bad second message is BAD and
    nothing is filed."""
    import urllib.parse
    imap = imap_session(imaps_port, context, USER, PASSWORD)
    expect(b"MULTIAPPEND" in imap.capability()[1][0].split(), f"capabilities: {imap.capability()!r}")
    imap.create("Multi")
    sock, reader = logged_in(imaps_port, context, USER, PASSWORD)
    large = b"Subject: large\r\n\r\n" + b"".join(b"line %07d of a large message\r\n" % n for n in range(40_000))
    small = [b"Subject: one\r\n\r\nfirst\r\n", b"Subject: three\r\n\r\nthird\r\n"]

    def append(mailbox, parts, tag="a"):
        # Every literal non-synchronising (LITERAL+) but the last, which waits for "+".
        command = b"%s APPEND %s" % (tag.encode(), mailbox.encode())
        for index, (prefix, body) in enumerate(parts):
            last = index == len(parts) - 1
            command += b" " + prefix + b"{%d%s}\r\n" % (len(body), b"" if last else b"+")
            if last:
                sock.sendall(command)
                line = reader.readline()
                if not line.startswith(b"+"):
                    return line
                sock.sendall(body + b"\r\n")
            else:
                command += body
        while True:
            line = reader.readline()
            if line.startswith(tag.encode() + b" "):
                return line

    parts = [(b"(\\Seen) ", small[0]), (b'"01-Jan-2001 10:00:00 +0000" ', large), (b"(\\Flagged $Work) ", small[1])]
    done = append("Multi", parts)
    appenduid = re.match(rb"a OK \[APPENDUID (\d+) 1:3\]", done)
    expect(appenduid, f"MULTIAPPEND: {done!r}")
    imap.select("Multi")
    typ, data = imap.fetch("1:3", "(FLAGS INTERNALDATE BODY.PEEK[])")
    bodies = [entry[1] for entry in data if isinstance(entry, tuple)]
    expect(bodies == [small[0], large, small[1]], f"contents: {[len(b) for b in bodies]}")
    heads = [entry[0] for entry in data if isinstance(entry, tuple)]
    expect(b"\\Seen" in heads[0] and b'"01-Jan-2001 10:00:00 +0000"' in heads[1] and b"$Work" in heads[2] and b"\\Flagged" in heads[2],
           f"flags and dates: {heads!r}")

    # Over the quota: none of them is filed.
    account = "accounts/" + urllib.parse.quote(USER)
    used = admin_api(admin_port, admin_token, "GET", account)[1]["usage"]["bytes"]
    admin_api(admin_port, admin_token, "PATCH", account, {"quotaBytes": used + len(large) // 2})
    done = append("Multi", [(b"", small[0]), (b"", large), (b"", small[1])], tag="q")
    expect(done.startswith(b"q NO [OVERQUOTA]"), f"MULTIAPPEND over the quota: {done!r}")
    expect(imap.select("Multi")[1] == [b"3"], f"messages after a refused MULTIAPPEND: {imap.select('Multi')!r}")
    admin_api(admin_port, admin_token, "PATCH", account, {"quotaBytes": None})

    done = append("Nowhere", [(b"", small[0]), (b"", large)], tag="n")
    expect(done.startswith(b"n NO [TRYCREATE]"), f"MULTIAPPEND to a missing mailbox: {done!r}")
    sock.sendall(b"b APPEND Multi {1+}\r\nx (\\Bogus\r\n")
    done = reader.readline()
    expect(done.startswith(b"b BAD"), f"a bad second message: {done!r}")
    expect(imap.select("Multi")[1] == [b"3"], "messages after a BAD MULTIAPPEND")
    untagged, done = fetch(sock, reader, "z", "NOOP")
    expect(done.startswith(b"z OK"), f"the session after: {done!r}")
    sock.close()
    imap.logout()


def partial():
    """PARTIAL (RFC 9394): SEARCH and SORT RETURN (PARTIAL n:m / -n:-m) give the results at those
    positions (NIL when none), beside MIN, MAX and COUNT of them all, and SAVE keeps those; FETCH's
    PARTIAL modifier answers the messages at those positions of the set; a range with 0, mixed signs,
    or PARTIAL with ALL is BAD."""
    imap = imap_session(imaps_port, context, USER, PASSWORD)
    expect(b"PARTIAL" in imap.capability()[1][0].split(), f"capabilities: {imap.capability()!r}")
    imap.create("Pages")
    for n in range(10):
        imap.append("Pages", None, None, b"Subject: page %d\r\n\r\nbody\r\n" % n)
    imap.logout()
    sock, reader = logged_in(imaps_port, context, USER, PASSWORD)
    fetch(sock, reader, "s", "SELECT Pages")
    for command, wanted in [
        ("SEARCH RETURN (PARTIAL 1:3) ALL", b"PARTIAL (1:3 1:3)"),
        ("SEARCH RETURN (PARTIAL -1:-3) ALL", b"PARTIAL (-1:-3 8:10)"),
        ("SEARCH RETURN (PARTIAL 5:2) ALL", b"PARTIAL (2:5 2:5)"),
        ("SEARCH RETURN (PARTIAL 20:30) ALL", b"PARTIAL (20:30 NIL)"),
        ("SEARCH RETURN (COUNT MIN PARTIAL -2:-1) NOT 10", b"COUNT 9 MIN 1 PARTIAL (-1:-2 8:9)"),
        ("SORT RETURN (PARTIAL 1:3) (REVERSE SUBJECT) UTF-8 ALL", b"PARTIAL (1:3 10,9,8)"),
    ]:
        untagged, done = fetch(sock, reader, "p", command)
        expect(done.startswith(b"p OK") and wanted in untagged, f"{command}: {untagged!r} {done!r}, not {wanted!r}")
    untagged, done = fetch(sock, reader, "u", "UID SEARCH RETURN (PARTIAL -1:-1) ALL")
    last_uid = re.search(rb"PARTIAL \(-1:-1 (\d+)\)", untagged)
    expect(last_uid, f"UID SEARCH PARTIAL: {untagged!r}")
    untagged, done = fetch(sock, reader, "f", "UID FETCH 1:* (FLAGS) (PARTIAL -1:-3)")
    expect(done.startswith(b"f OK") and re.findall(rb"^\* (\d+) FETCH", untagged, re.M) == [b"8", b"9", b"10"], f"UID FETCH PARTIAL: {untagged!r}")
    expect(b"UID %s" % last_uid.group(1) in untagged, f"the last message's UID: {untagged!r}")
    untagged, done = fetch(sock, reader, "g", "FETCH 1:* (UID) (PARTIAL 2:3)")
    expect(re.findall(rb"^\* (\d+) FETCH", untagged, re.M) == [b"2", b"3"], f"FETCH PARTIAL: {untagged!r}")
    fetch(sock, reader, "v", "SEARCH RETURN (SAVE PARTIAL 4:5) ALL")
    untagged, done = fetch(sock, reader, "w", "FETCH $ (UID)")
    expect(re.findall(rb"^\* (\d+) FETCH", untagged, re.M) == [b"4", b"5"], f"SAVE with PARTIAL: {untagged!r}")
    for bad in ["SEARCH RETURN (PARTIAL 1:5 ALL) ALL", "SEARCH RETURN (PARTIAL 0:5) ALL", "SEARCH RETURN (PARTIAL -1:5) ALL",
                "SEARCH RETURN (PARTIAL 1:*) ALL", "SEARCH RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL", "FETCH 1:* (UID) (PARTIAL 1)",
                "SEARCH RETURN (PARTIAL 1:4294967296) ALL"]:
        _, done = fetch(sock, reader, "b", bad)
        expect(done.startswith(b"b BAD"), f"{bad}: {done!r}")
    sock.close()


def metadata():
    """METADATA (RFC 5464): server and mailbox entries set, read back (one, a list, DEPTH 1 and
    infinity, MAXSIZE with LONGENTRIES), replaced and removed with NIL; binary values as literal8;
    entries follow a renamed mailbox and go with a deleted one; another session sees them; limits
    answer MAXSIZE and TOOMANY; bad entry names are BAD; a missing mailbox NONEXISTENT."""
    imap = imap_session(imaps_port, context, USER, PASSWORD)
    caps = imap.capability()[1][0].split()
    expect(b"METADATA" in caps and b"METADATA-SERVER" in caps, f"capabilities: {caps!r}")
    imap.create("Meta")
    sock, reader = logged_in(imaps_port, context, USER, PASSWORD)

    def command(tag, text, outcome=b"OK"):
        untagged, done = fetch(sock, reader, tag, text)
        expect(done.startswith(tag.encode() + b" " + outcome), f"{text}: {untagged!r} {done!r}")
        return untagged, done

    command("a", 'SETMETADATA "" (/private/comment "my server note" /shared/vendor/x/one "1" /shared/vendor/x/two/deep "2")')
    command("b", 'SETMETADATA Meta (/private/comment "mailbox note" /private/specialuse "\\\\Archive")')
    untagged, _ = command("c", 'GETMETADATA "" /private/comment')
    expect(b'* METADATA "" ("/private/comment" "my server note")' in untagged, f"server entry: {untagged!r}")
    untagged, _ = command("d", 'GETMETADATA Meta (/private/comment /private/missing)')
    expect(b'("/private/comment" "mailbox note" "/private/missing" NIL)' in untagged, f"mailbox entries: {untagged!r}")
    untagged, _ = command("e", 'GETMETADATA (DEPTH 1) "" /shared/vendor/x')
    expect(b'"/shared/vendor/x/one" "1"' in untagged and b"deep" not in untagged, f"DEPTH 1: {untagged!r}")
    untagged, _ = command("f", 'GETMETADATA (DEPTH infinity) "" /shared/vendor')
    expect(b'"/shared/vendor/x/one" "1"' in untagged and b'"/shared/vendor/x/two/deep" "2"' in untagged, f"DEPTH infinity: {untagged!r}")
    untagged, done = command("g", 'GETMETADATA (MAXSIZE 5) "" (/private/comment /shared/vendor/x/one)')
    expect(b"[METADATA LONGENTRIES 14]" in done and b"my server note" not in untagged and b'"1"' in untagged,
           f"MAXSIZE: {untagged!r} {done!r}")
    # Another session sees them; binary values come back as literal8; NIL removes.
    imaplib.Commands.setdefault("GETMETADATA", ("AUTH", "SELECTED"))
    other = imap_session(imaps_port, context, USER, PASSWORD)
    typ, data = other._simple_command("GETMETADATA", "Meta", "/private/comment")
    expect(typ == "OK" and b"mailbox note" in b"".join(x if isinstance(x, bytes) else b"".join(x) for x in other.untagged_responses.get("METADATA", [])),
           f"another session: {typ} {other.untagged_responses!r}")
    other.logout()
    sock.sendall(b"h SETMETADATA Meta (/private/blob ~{4+}\r\n\x00\x01\x02\x03)\r\n")
    done = reader.readline()
    expect(done.startswith(b"h OK"), f"binary value: {done!r}")
    untagged, _ = command("i", "GETMETADATA Meta /private/blob")
    expect(b"~{4}\r\n\x00\x01\x02\x03" in untagged, f"binary value back: {untagged!r}")
    command("j", "SETMETADATA Meta (/private/blob NIL /private/comment \"changed\")")
    untagged, _ = command("k", "GETMETADATA Meta (/private/blob /private/comment)")
    expect(b'"/private/blob" NIL' in untagged and b'"changed"' in untagged, f"after NIL and a change: {untagged!r}")
    # They follow RENAME and go with DELETE.
    command("l", "RENAME Meta Meta2")
    untagged, _ = command("m", "GETMETADATA Meta2 /private/comment")
    expect(b'"changed"' in untagged, f"after RENAME: {untagged!r}")
    command("n", "DELETE Meta2")
    command("o", "CREATE Meta2")
    untagged, _ = command("p", "GETMETADATA Meta2 /private/comment")
    expect(b'"/private/comment" NIL' in untagged, f"a new mailbox of the name: {untagged!r}")
    command("q", "GETMETADATA Nowhere /private/comment", b"NO [NONEXISTENT]")
    # Limits and bad names.
    big = b"x" * 70_000
    sock.sendall(b"r SETMETADATA Meta2 (/private/big {%d+}\r\n%s)\r\n" % (len(big), big))
    done = reader.readline()
    expect(done.startswith(b"r NO [METADATA MAXSIZE 65536]"), f"a value too large: {done!r}")
    many = " ".join(f'/private/n{n} "v"' for n in range(300))
    command("s", f"SETMETADATA Meta2 ({many})", b"NO [METADATA TOOMANY]")
    untagged, _ = command("t", "GETMETADATA (DEPTH 1) Meta2 /private")
    expect(b"/private/n1" not in untagged, f"a refused SETMETADATA changed something: {untagged[:200]!r}")
    for bad in ["GETMETADATA Meta2 /other/x", 'GETMETADATA Meta2 "/private/a*"', "GETMETADATA Meta2 /private//x",
                "GETMETADATA Meta2 /private/", "SETMETADATA Meta2 ()", "GETMETADATA (DEPTH 2) Meta2 /private/x"]:
        command("u", bad, b"BAD")
    sock.close()
    imap.logout()


def imapclient_sync():
    """The extensions through imapclient (PyPI), a client library nobody here wrote: MULTIAPPEND,
    CONDSTORE (SELECT's HIGHESTMODSEQ, FETCH CHANGEDSINCE, MODSEQ), QRESYNC enabled, SORT, THREAD,
    QUOTA (GETQUOTAROOT), ID, special-use folders, STATUS, MOVE and UID EXPUNGE."""
    from imapclient import IMAPClient
    client = IMAPClient("127.0.0.1", port=imaps_port, ssl=True, ssl_context=context, timeout=30)
    client.login(USER, PASSWORD)
    for capability in (b"CONDSTORE", b"QRESYNC", b"SORT", b"THREAD=REFERENCES", b"QUOTA", b"MULTIAPPEND", b"MOVE", b"UIDPLUS", b"SPECIAL-USE"):
        expect(client.has_capability(capability.decode()), f"no {capability!r} in {client.capabilities()!r}")
    expect(client.id_() is not None, "ID")
    expect(client.find_special_folder(b"\\Sent") == "Sent" and client.find_special_folder(b"\\Trash") == "Trash",
           f"special-use folders: {client.list_folders()!r}")
    client.create_folder("Client")
    messages = [
        {"msg": b"From: b@example.net\r\nSubject: banana\r\nDate: Tue, 3 Mar 2026 10:00:00 +0000\r\nMessage-ID: <b@x>\r\n\r\nb\r\n",
         "flags": (b"\\Seen",)},
        {"msg": b"From: a@example.net\r\nSubject: apple\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\nMessage-ID: <a@x>\r\n\r\na\r\n"},
        {"msg": b"From: c@example.net\r\nSubject: Re: apple\r\nDate: Wed, 4 Mar 2026 10:00:00 +0000\r\nMessage-ID: <c@x>\r\n"
                b"In-Reply-To: <a@x>\r\nReferences: <a@x>\r\n\r\nc\r\n"},
    ]
    appended = client.multiappend("Client", messages)
    expect(b"[APPENDUID " in b"".join(appended[1]), f"MULTIAPPEND: {appended!r}")
    expect(client.enable("QRESYNC") == [b"QRESYNC"], "ENABLE QRESYNC")
    selected = client.select_folder("Client")
    expect(selected[b"EXISTS"] == 3 and b"HIGHESTMODSEQ" in selected, f"SELECT: {selected!r}")
    modseq = selected[b"HIGHESTMODSEQ"]
    uids = client.search("ALL")
    expect(len(uids) == 3, f"SEARCH: {uids!r}")
    expect(client.sort("SUBJECT") == [uids[1], uids[2], uids[0]], f"SORT SUBJECT: {client.sort('SUBJECT')!r}")
    expect(client.sort(["REVERSE", "DATE"]) == [uids[2], uids[0], uids[1]], f"SORT REVERSE DATE: {client.sort(['REVERSE', 'DATE'])!r}")
    threads = client.thread("REFERENCES")
    expect(sorted(map(tuple, threads)) == sorted([(uids[1], uids[2]), (uids[0],)]), f"THREAD: {threads!r}")
    client.add_flags([uids[1]], [b"$Work"])
    changed = client.fetch(uids, ["FLAGS"], modifiers=[f"CHANGEDSINCE {modseq}"])
    expect(list(changed) == [uids[1]] and b"$Work" in changed[uids[1]][b"FLAGS"] and changed[uids[1]][b"MODSEQ"][0] > modseq,
           f"FETCH CHANGEDSINCE: {changed!r}")
    roots, quotas = client.get_quota_root("Client")
    expect(roots.mailbox == "Client", f"GETQUOTAROOT: {roots!r} {quotas!r}")
    status = client.folder_status("Client", ["MESSAGES", "UNSEEN", "HIGHESTMODSEQ", "SIZE"])
    expect(status[b"MESSAGES"] == 3 and status[b"UNSEEN"] == 2, f"STATUS: {status!r}")
    client.move([uids[0]], "Archive")
    client.set_flags([uids[1]], [b"\\Deleted"])
    client.uid_expunge([uids[1]])
    expect(client.search("ALL") == [uids[2]], f"after MOVE and UID EXPUNGE: {client.search('ALL')!r}")
    client.logout()


def catenate():
    """CATENATE (RFC 4469): a message made of TEXT parts and URLs of this account's messages (whole, a
    SECTION, a PARTIAL window), also inside a MULTIAPPEND; a URL of another user's message, a stale
    UIDVALIDITY, a part that is not there, a relative or URLAUTH URL: NO [BADURL] and nothing stored."""
    imap = imap_session(imaps_port, context, USER, PASSWORD)
    expect(b"CATENATE" in imap.capability()[1][0].split(), f"capabilities: {imap.capability()!r}")
    imap.create("Src")
    imap.create("Dst")
    source = (b"From: a@example.net\r\nSubject: source\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n"
              b"--z\r\nContent-Type: text/plain\r\n\r\nThe first part.\r\n--z\r\nContent-Type: text/plain\r\n\r\nThe second.\r\n--z--\r\n")
    imap.append("Src", None, None, source)
    typ, data = imap.status("Src", "(UIDVALIDITY)")
    validity = int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1))
    sock, reader = logged_in(imaps_port, context, USER, PASSWORD)

    def append(tag, parts, more=b""):
        """APPEND Dst CATENATE (...) with TEXT parts as LITERAL+ and URLs quoted; `more` follows it."""
        command = b"%s APPEND Dst CATENATE (" % tag.encode()
        for index, (kind, value) in enumerate(parts):
            command += b" " if index else b""
            command += b'URL "%s"' % value if kind == "url" else b"TEXT {%d+}\r\n%s" % (len(value), value)
        sock.sendall(command + b")" + more + b"\r\n")
        while True:
            line = reader.readline()
            if line.startswith(tag.encode() + b" "):
                return line

    head = b"From: me@example.org\r\nSubject: made of parts\r\n\r\n"
    done = append("a", [("text", head), ("url", b"/Src;UIDVALIDITY=%d/;UID=1/;SECTION=1" % validity), ("text", b"\r\nand the whole:\r\n"),
                        ("url", b"imap://alice%%40example.org@imap.estafeta.test/Src;UIDVALIDITY=%d/;UID=1" % validity),
                        ("url", b"/Src/;UID=1/;SECTION=2/;PARTIAL=4.6")])
    expect(done.startswith(b"a OK [APPENDUID "), f"CATENATE: {done!r}")
    imap.select("Dst")
    typ, data = imap.fetch("1", "(BODY.PEEK[])")
    # The end of a message is a line end, as for any APPEND.
    wanted = head + b"The first part." + b"\r\nand the whole:\r\n" + source + b"second\r\n"
    expect(data[0][1] == wanted, f"the message made: {data[0][1]!r}, not {wanted!r}")
    # In a MULTIAPPEND, beside a plain message.
    plain = b"Subject: two\r\n\r\n2\r\n"
    done = append("m", [("text", b"Subject: one\r\n\r\n1\r\n")], more=b" {%d+}\r\n%s" % (len(plain), plain))
    expect(re.match(rb"m OK \[APPENDUID \d+ 2:3\]", done), f"CATENATE in a MULTIAPPEND: {done!r}")
    for url in [b"imap://bob@imap.estafeta.test/INBOX;UIDVALIDITY=%d/;UID=1" % validity, b"/Src;UIDVALIDITY=%d/;UID=1" % (validity + 1),
                b"/Src/;UID=2", b"/Src/;UID=1/;SECTION=9", b";UID=1", b"/Src/;UID=1/;URLAUTH=anonymous", b"/Nowhere/;UID=1"]:
        done = append("b", [("text", head), ("url", url)])
        expect(done.startswith(b"b NO [BADURL "), f"{url!r}: {done!r}")
    expect(imap.select("Dst")[1] == [b"3"], "a refused CATENATE stored something")
    sock.close()
    imap.logout()


def notify():
    """NOTIFY (RFC 5465): with nothing sent by the client, a session is told of another session's new
    message in the selected mailbox (EXISTS and the FETCH items it asked for), flag changes and
    expunges there, new messages in another mailbox (STATUS), mailboxes created, renamed and deleted
    (LIST, OLDNAME, \\NonExistent) and subscriptions; NOTIFY SET STATUS answers STATUS first; NOTIFY NONE
    stops it; bad requests are BAD and events this server does not tell NO [BADEVENT]."""
    imap = imap_session(imaps_port, context, USER, PASSWORD)
    expect(b"NOTIFY" in imap.capability()[1][0].split(), "NOTIFY not advertised")
    for name in ["Watched", "Elsewhere"]:
        imap.create(name)
    imap.append("INBOX", None, None, b"Subject: first\r\n\r\nbody\r\n")
    sock, reader = logged_in(imaps_port, context, USER, PASSWORD)

    def command(tag, text, outcome=b"OK"):
        untagged, done = fetch(sock, reader, tag, text)
        expect(done.startswith(tag.encode() + b" " + outcome), f"{text}: {untagged!r} {done!r}")
        return untagged, done

    for bad in ["NOTIFY SET (selected (MessageNew))", "NOTIFY SET (selected (FlagChange))", "NOTIFY BOGUS",
                "NOTIFY SET (mailboxes Watched (MessageNew (UID) MessageExpunge))", "NOTIFY SET (selected (MessageNew MessageExpunge)) (selected-delayed (MessageNew MessageExpunge))",
                "NOTIFY SET (nowhere (MessageNew))", "NOTIFY SET (personal ())"]:
        command("b", bad, b"BAD")
    _, done = command("n", "NOTIFY SET (personal (MessageNew MessageExpunge AnnotationChange))", b"NO")
    expect(done.startswith(b"n NO [BADEVENT (") and b"MessageNew" in done, f"BADEVENT: {done!r}")
    command("s", "SELECT INBOX")
    untagged, _ = command("a", "NOTIFY SET STATUS (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)]) MessageExpunge FlagChange)) "
                               "(personal (MessageNew MessageExpunge MailboxName SubscriptionChange))")
    expect(b'* STATUS "Watched" (MESSAGES 0 UIDNEXT 1 UIDVALIDITY ' in untagged and b'* STATUS "Elsewhere" (' in untagged
           and b'* STATUS "INBOX"' not in untagged, f"NOTIFY SET STATUS: {untagged!r}")
    # From here the client sends nothing: what the other session does arrives by itself.
    sock.settimeout(15)
    pending = [b""]

    def told(pattern, what):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            found = re.search(pattern, pending[0])
            if found:
                consumed, pending[0] = pending[0][:found.end()], pending[0][found.end():]
                return consumed
            try:
                chunk = reader.read1(65536)
            except TimeoutError:
                break
            expect(chunk, f"connection closed waiting for {what}")
            pending[0] += chunk
        raise SystemExit(f"FAIL: not told {what} within 15 s: {pending[0]!r}")

    other = imap_session(imaps_port, context, USER, PASSWORD)
    other.append("INBOX", None, None, b"Subject: second\r\n\r\nbody\r\n")
    told(rb"\* 2 EXISTS\r\n", "EXISTS for a new message")
    told(rb"\* 2 FETCH \(UID 2 BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}\r\nSubject: second", "the new message's FETCH items")
    other.append("Watched", None, None, b"Subject: there\r\n\r\nbody\r\n")
    told(rb'\* STATUS "Watched" \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1\)\r\n', "STATUS of another mailbox")
    other.select("INBOX")
    other.store("1", "+FLAGS", "\\Flagged")
    told(rb"\* 1 FETCH \([^\r]*FLAGS \([^)]*\\Flagged", "a flag change")
    other.create("Fresh")
    told(rb'\* LIST \(\) "/" "Fresh"\r\n', "a new mailbox")
    other.rename("Fresh", "Fresh2")
    told(rb'\* LIST \(\) "/" "Fresh2" \("OLDNAME" \("Fresh"\)\)\r\n', "a renamed mailbox")
    other.subscribe("Fresh2")
    told(rb'\* LIST \(\\Subscribed\) "/" "Fresh2"\r\n', "a subscription")
    other.unsubscribe("Fresh2")
    told(rb'\* LIST \(\) "/" "Fresh2"\r\n', "a subscription ended")
    other.delete("Fresh2")
    told(rb'\* LIST \(\\NonExistent\) "/" "Fresh2"\r\n', "a deleted mailbox")
    other.store("1", "+FLAGS", "\\Deleted")
    other.expunge()
    told(rb"\* 1 EXPUNGE\r\n", "an expunge in the selected mailbox")
    # IDLE with NOTIFY on waits, and what NOTIFY asks for is told meanwhile.
    sock.sendall(b"i IDLE\r\n")
    told(rb"\+ [^\r]*\r\n", "IDLE's continuation")
    other.append("Elsewhere", None, None, b"Subject: idle\r\n\r\nbody\r\n")
    told(rb'\* STATUS "Elsewhere" \(MESSAGES 1 ', "STATUS during IDLE")
    sock.sendall(b"DONE\r\n")
    told(rb"i OK", "IDLE's end")
    # SELECTED-DELAYED: an expunge waits for a command that lets sequence numbers change (NOOP), so a
    # client using them is not surprised; a new message still comes at once.
    sock.sendall(b"d NOTIFY SET (selected-delayed (MessageNew MessageExpunge))\r\n")
    told(rb"d OK", "NOTIFY SET SELECTED-DELAYED")
    other.store("1", "+FLAGS", "\\Deleted")
    other.expunge()
    other.append("INBOX", None, None, b"Subject: third\r\n\r\nbody\r\n")
    consumed = told(rb"\* 2 EXISTS\r\n", "EXISTS while an expunge waits")
    expect(b"EXPUNGE" not in consumed + pending[0], f"an expunge told at once with SELECTED-DELAYED: {consumed + pending[0]!r}")
    sock.sendall(b"e NOOP\r\n")
    told(rb"\* 1 EXPUNGE\r\n(?:[^\r]*\r\n)*e OK", "the expunge at NOOP")
    # NOTIFY NONE: nothing more of other mailboxes.
    sock.sendall(b"z NOTIFY NONE\r\n")
    told(rb"z OK", "NOTIFY NONE")
    other.append("Elsewhere", None, None, b"Subject: quiet\r\n\r\nbody\r\n")
    time.sleep(1.5)
    sock.sendall(b"y NOOP\r\n")
    told(rb"y OK", "NOOP")
    expect(b"Elsewhere" not in pending[0], f"told after NOTIFY NONE: {pending[0]!r}")
    other.logout()
    sock.close()
    imap.logout()


def context_updates():
    """CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 §4): a search or sort with RETURN (UPDATE) is followed by
    ESEARCH ADDTO and REMOVEFROM as messages start or stop matching, through the session's own STORE,
    another session's APPEND and EXPUNGE (REMOVEFROM before the EXPUNGE, ADDTO after EXISTS, SORT's at the
    new message's place) and during IDLE; CANCELUPDATE and a new SELECT end them; a tag in use is BAD, an
    unknown one NO; past the session's limit a search gets NO [NOUPDATE]."""
    imap = imap_session(imaps_port, context, USER, PASSWORD)
    caps = imap.capability()[1][0].split()
    expect(b"CONTEXT=SEARCH" in caps and b"CONTEXT=SORT" in caps, f"capabilities: {caps!r}")
    imap.create("Ctx")
    for subject in ["c", "a", "b"]:
        imap.append("Ctx", None, None, f"Subject: {subject}\r\n\r\nbody\r\n".encode())
    imap.select("Ctx")
    sock, reader = logged_in(imaps_port, context, USER, PASSWORD)

    def command(tag, text, outcome=b"OK"):
        untagged, done = fetch(sock, reader, tag, text)
        expect(done.startswith(tag.encode() + b" " + outcome), f"{text}: {untagged!r} {done!r}")
        return untagged

    command("s", "SELECT Ctx")
    expect(command("a", "UID SEARCH RETURN (UPDATE) UNSEEN") == b'* ESEARCH (TAG "a") UID ALL 1:3\r\n', "UPDATE's first answer")
    expect(command("b", "SORT RETURN (UPDATE CONTEXT) (SUBJECT) UTF-8 ALL") == b'* ESEARCH (TAG "b") ALL 2:3,1\r\n', "SORT's first answer")
    command("a", "SEARCH RETURN (UPDATE) ALL", b"BAD")
    untagged = command("t", "UID STORE 2 +FLAGS.SILENT (\\Seen)")
    expect(b'* ESEARCH (TAG "a") UID REMOVEFROM (0 2)\r\n' in untagged and b'(TAG "b")' not in untagged, f"own STORE: {untagged!r}")
    imap.append("Ctx", None, None, b"Subject: bb\r\n\r\nbody\r\n")
    untagged = command("n", "NOOP")
    expect(re.search(rb'\* 4 EXISTS\r\n(.*\r\n)*\* ESEARCH \(TAG "a"\) UID ADDTO \(0 4\)\r\n', untagged)
           and b'* ESEARCH (TAG "b") ADDTO (3 4)\r\n' in untagged, f"another session's APPEND: {untagged!r}")
    imap.uid("STORE", "3", "+FLAGS", "(\\Deleted)")
    imap.expunge()
    untagged = command("m", "NOOP")
    expect(re.search(rb'\* ESEARCH \(TAG "a"\) UID REMOVEFROM \(0 3\)\r\n(.*\r\n)*\* 3 EXPUNGE', untagged)
           and re.search(rb'\* ESEARCH \(TAG "b"\) REMOVEFROM \(0 3\)\r\n(.*\r\n)*\* 3 EXPUNGE', untagged),
           f"another session's EXPUNGE: {untagged!r}")
    # During IDLE, as it happens.
    sock.sendall(b"i IDLE\r\n")
    expect(reader.readline().startswith(b"+"), "IDLE")
    imap.uid("STORE", "1", "+FLAGS", "(\\Seen)")
    sock.settimeout(15)
    line = reader.readline()
    while line.startswith(b"* 1 FETCH") or line.startswith(b"* OK"):
        line = reader.readline()
    expect(line == b'* ESEARCH (TAG "a") UID REMOVEFROM (0 1)\r\n', f"update during IDLE: {line!r}")
    sock.sendall(b"DONE\r\n")
    while not reader.readline().startswith(b"i OK"):
        pass
    command("c", 'CANCELUPDATE "zz"', b"NO")
    command("c", 'CANCELUPDATE "a"')
    imap.uid("STORE", "4", "+FLAGS", "(\\Seen)")
    untagged = command("o", "NOOP")
    expect(b"ESEARCH" not in untagged, f"an update after CANCELUPDATE: {untagged!r}")
    # The session's limit.
    for n in range(4):
        command(f"u{n}", "UID SEARCH RETURN (UPDATE) ALL")
    untagged = command("v", "UID SEARCH RETURN (UPDATE COUNT) ALL")
    expect(b'* NO [NOUPDATE "v"]' in untagged and b'* ESEARCH (TAG "v") UID COUNT 3' in untagged, f"past the limit: {untagged!r}")
    # A new SELECT ends them all.
    command("r", "SELECT Ctx")
    imap.append("Ctx", None, None, b"Subject: later\r\n\r\nbody\r\n")
    untagged = command("p", "NOOP")
    expect(b"EXISTS" in untagged and b"ESEARCH" not in untagged, f"an update after SELECT: {untagged!r}")
    sock.close()
    imap.logout()


CHECKS = [compress, compress_memory, configured_mailboxes, objectid, savedate, preview, multiappend, partial, metadata,
          imapclient_sync, catenate, notify, context_updates]

if __name__ == "__main__":
    run_checks(CHECKS, set(sys.argv[6:]))
