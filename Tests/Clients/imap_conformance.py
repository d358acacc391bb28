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

from imap_raw import fetch, imap_session, logged_in, run_checks

imaps_port, ca_file = int(sys.argv[1]), sys.argv[2]
USER, PASSWORD = "alice@example.org", "correct horse battery"
context = ssl.create_default_context(cafile=ca_file)
context.check_hostname = False


def session():
    return imap_session(imaps_port, context, USER, PASSWORD)


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


def mailbox_with(name, *messages):
    """A session with mailbox `name` selected, holding `messages` (bytes) in order."""
    imap = session()
    imap.create(name)
    for message in messages:
        typ, data = imap.append(name, None, None, message)
        expect(typ == "OK", f"APPEND to {name}: {data!r}")
    imap.select(name)
    return imap


def search(imap, *criteria, charset=None):
    typ, data = imap.search(charset, *criteria)
    expect(typ == "OK", f"SEARCH {criteria}: {data!r}")
    return [int(n) for n in data[0].split()]


def envelope_addresses():
    """ENVELOPE addresses: the old comment form's name, quoted names with commas, groups and empty
    groups (RFC 9051 §7.5.2), comments inside an address, an address without a domain."""
    imap = mailbox_with("Envelopes", (
        b"From: user@example.org (Real Name)\r\n"
        b"To: group: a@b.example, \"Doe, J\" <c@d.example>;, solo@e.example\r\n"
        b"Cc: undisclosed-recipients:;\r\n"
        b"Reply-To: <user (c)@ (c) domain.org>\r\n"
        b"Bcc: \"Quote \\\"Q\\\" Name\" <q@example.org>, nodomain\r\n"
        b"Subject: addresses\r\n\r\nbody\r\n"))
    typ, data = imap.fetch("1", "(ENVELOPE)")
    expect(typ == "OK", f"FETCH ENVELOPE: {data!r}")
    envelope = data[0] if isinstance(data[0], bytes) else b"".join(part for item in data for part in (item if isinstance(item, tuple) else (item,)))
    for wanted in [
        b'(("Real Name" NIL "user" "example.org"))',
        b'((NIL NIL "group" NIL)(NIL NIL "a" "b.example")("Doe, J" NIL "c" "d.example")(NIL NIL NIL NIL)(NIL NIL "solo" "e.example"))',
        b'((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))',
        b'((NIL NIL "user" "domain.org"))',
        b'(("Quote \\"Q\\" Name" NIL "q" "example.org")(NIL NIL "nodomain" "MISSING_DOMAIN"))',
    ]:
        expect(wanted in envelope, f"ENVELOPE lacks {wanted!r}: {envelope!r}")
    imap.logout()


def sent_dates():
    """SENTBEFORE, SENTON and SENTSINCE compare the day written in Date:, whatever its time and zone."""
    imap = mailbox_with(
        "SentDates",
        b"Date: Sun, 25 Mar 2007 00:00:00 +0200\r\nSubject: early in its zone\r\n\r\nbody\r\n",
        b"Date: Sat, 24 Mar 2007 23:30:00 -0500\r\nSubject: late in its zone\r\n\r\nbody\r\n",
        b"Subject: no date\r\n\r\nbody\r\n")
    expect(search(imap, "SENTON", "25-Mar-2007") == [1], "SENTON 25-Mar-2007")
    expect(search(imap, "SENTON", "24-Mar-2007") == [2], "SENTON 24-Mar-2007")
    expect(search(imap, "SENTBEFORE", "25-Mar-2007") == [2], "SENTBEFORE 25-Mar-2007")
    expect(search(imap, "SENTSINCE", "25-Mar-2007") == [1], "SENTSINCE 25-Mar-2007")
    expect(search(imap, "SENTSINCE", "24-Mar-2007") == [1, 2], "SENTSINCE 24-Mar-2007")
    imap.logout()


def address_search():
    """FROM finds an address however the header writes it: display name, comment form, comments inside
    the address, encoded words; and the name and address together as `Name <address>`."""
    imap = mailbox_with(
        "Addresses",
        b"From: \"Real Name\" <real@example.org>\r\nSubject: a\r\n\r\nbody\r\n",
        b"From: comment@example.org (Commented Name)\r\nSubject: b\r\n\r\nbody\r\n",
        b"From: <inside (c)@ (c) example.net>\r\nSubject: c\r\n\r\nbody\r\n",
        b"From: =?utf-8?q?J=C3=BCrgen?= <jurgen@example.org>\r\nSubject: d\r\n\r\nbody\r\n")
    expect(search(imap, "FROM", "real@example.org") == [1], "FROM an address with a display name")
    expect(search(imap, "FROM", '"Real Name <real@example.org>"') == [1], "FROM name and address")
    expect(search(imap, "FROM", '"Commented Name"') == [2], "FROM the comment form's name")
    expect(search(imap, "FROM", '"Commented Name <comment@example.org>"') == [2], "FROM the comment form as name and address")
    expect(search(imap, "FROM", "inside@example.net") == [3], "FROM an address with comments inside")
    expect(search(imap, "FROM", "example.org") == [1, 2, 4], "FROM a domain")
    imap.literal = "Jürgen".encode()
    expect(search(imap, "FROM", charset="UTF-8") == [4], "FROM an encoded-word name")
    imap.logout()


MULTIPART = (
    b"From: a@example.org\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
    b"preamble\r\n--outer\r\nContent-Type: text/plain\r\n\r\nplain text\r\nsecond line\r\n"
    b"--outer\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"AAECAwQFBgcICQ==\r\n"
    b"--outer\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"caf=C3=A9 soft=\r\nbreak\r\n"
    b"--outer\r\nContent-Type: message/rfc822\r\n\r\n"
    b"From: inner@example.org\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n"
    b"--inner\r\nContent-Type: text/plain\r\n\r\ninner plain\r\n"
    b"--inner\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\nPGI+aGk8L2I+\r\n"
    b"--inner--\r\n"
    b"--outer--\r\nepilogue\r\n")


def fetch_items(imap, number, items):
    """FETCH `items` of message `number` with imaplib: {item name: bytes or text} from one response."""
    typ, data = imap.fetch(str(number), f"({items})")
    expect(typ == "OK", f"FETCH {items}: {data!r}")
    found = {}
    text = b""
    for part in data:
        if isinstance(part, tuple):
            head, literal = part
            name = re.search(rb"([A-Z0-9.]+\[[^\]]*\](?:<\d+>)?) [~]?\{\d+\}$", head).group(1).decode()
            found[name] = literal
            text += head
        elif part:
            text += part
    for name, value in re.findall(rb"(BINARY\.SIZE\[[^\]]*\]) (\d+)", text):
        found[name.decode()] = int(value)
    return found


def binary_sizes():
    """BINARY.SIZE of a part equals the length of what BINARY of that part returns (RFC 3516)."""
    imap = mailbox_with("Binary", MULTIPART)
    others = [
        b"Subject: single\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8gd29ybGQ=\r\n\r\n",
        b"Subject: qp\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nline one=0D=0Aline two\r\nend=\r\n",
        b"Subject: empty part\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"AAEC\r\nAwQF\r\n\r\n--b--\r\n",
        b"Subject: plain\r\n\r\nno final line break",
    ]
    for message in others:
        imap.append("Binary", None, None, message)
    for number, parts in [(2, ["1", ""]), (3, ["1", ""]), (4, ["1", "2", ""]), (5, ["1", ""])]:
        for part in parts:
            found = fetch_items(imap, number, f"BINARY.PEEK[{part}] BINARY.SIZE[{part}]")
            data, size = found.get(f"BINARY[{part}]"), found.get(f"BINARY.SIZE[{part}]")
            expect(data is not None and size == len(data), f"{number}: BINARY[{part}] {data!r}, BINARY.SIZE says {size}")
            alone = fetch_items(imap, number, f"BINARY.SIZE[{part}]").get(f"BINARY.SIZE[{part}]")
            expect(alone == size, f"{number}: BINARY.SIZE[{part}] alone says {alone}, with BINARY {size}")
    for part in ["1", "2", "3", "4", "4.1", "4.2", ""]:
        # Asked together and each alone: the size may be worked out without the data.
        found = fetch_items(imap, 1, f"BINARY.PEEK[{part}] BINARY.SIZE[{part}]")
        data, size = found.get(f"BINARY[{part}]"), found.get(f"BINARY.SIZE[{part}]")
        expect(data is not None and size == len(data), f"BINARY[{part}] is {len(data or b'')} octets, BINARY.SIZE says {size}")
        alone = fetch_items(imap, 1, f"BINARY.SIZE[{part}]").get(f"BINARY.SIZE[{part}]")
        expect(alone == size, f"BINARY.SIZE[{part}] alone says {alone}, with BINARY {size}")
        expect(fetch_items(imap, 1, f"BINARY.PEEK[{part}]").get(f"BINARY[{part}]") == data, f"BINARY[{part}] alone differs")
    # Without a transfer encoding BINARY is the part as BODY gives it; decoded, it is the octets encoded.
    for part in ["1", "4.1", "4", ""]:
        body = fetch_items(imap, 1, f"BODY.PEEK[{part}]").get(f"BODY[{part}]")
        binary = fetch_items(imap, 1, f"BINARY.PEEK[{part}]").get(f"BINARY[{part}]")
        expect(body == binary, f"BINARY[{part}] {binary!r} differs from BODY[{part}] {body!r}")
    expect(fetch_items(imap, 1, "BINARY.PEEK[2]").get("BINARY[2]") == bytes(range(10)), "BINARY[2] of base64")
    expect(fetch_items(imap, 1, "BINARY.PEEK[3]").get("BINARY[3]") == "café soft".encode() + b"break\r\n"[:0] + b"break",
           f"BINARY[3] of quoted-printable: {fetch_items(imap, 1, 'BINARY.PEEK[3]')!r}")
    expect(fetch_items(imap, 1, "BINARY.PEEK[4.2]").get("BINARY[4.2]") == b"<b>hi</b>", "BINARY[4.2] of base64 inside an attached message")
    imap.logout()


def greeted():
    """A new IMAPS connection, not logged in, its greeting read: (socket, reader)."""
    import socket
    sock = context.wrap_socket(socket.create_connection(("127.0.0.1", imaps_port), timeout=15), server_hostname="localhost")
    reader = sock.makefile("rb")
    reader.readline()
    return sock, reader


def id_limits():
    """ID within RFC 2971's limits (30 pairs, names of 30 octets, values of 1,024) is answered OK; beyond
    them BAD, as often as a client sends it, before and after login, and the connection stays."""
    def pairs(count, name_length=5, value_length=10):
        return " ".join(f'"{str(i).rjust(name_length, "n")}" "{"v" * value_length}"' for i in range(count))
    # Within: the most pairs and the longest names that fit in a command line, and a longest value.
    within = [f"ID ({pairs(30, 30, 200)})", f"ID ({pairs(1, 30, 1024)})"]
    beyond = [f"ID ({pairs(31)})", f"ID ({pairs(1, 31)})", f"ID ({pairs(1, 5, 1025)})", f"ID ({pairs(60, 30, 10)})"]
    for sock, reader in [greeted(), raw()]:
        for index, command in enumerate(within):
            untagged, done = fetch(sock, reader, f"w{index}", command)
            expect(done.startswith(f"w{index} OK".encode()) and b"* ID (" in untagged, f"ID within the limits: {done!r}")
        for round in range(3):
            for index, command in enumerate(beyond):
                tag = f"b{round}{index}"
                _, done = fetch(sock, reader, tag, command)
                expect(done.startswith(f"{tag} BAD".encode()), f"ID beyond the limits ({command[:40]}...): {done!r}")
        _, done = fetch(sock, reader, "n", "NOOP")
        expect(done.startswith(b"n OK"), f"NOOP after the IDs: {done!r}")
        sock.close()


def atom_names():
    """Mailbox names given as atoms, with any punctuation an atom (or astring) allows, are names: a
    missing one is NO [NONEXISTENT], an existing one is selected, never BAD, never a disconnection."""
    punctuation = "!#$'+,-.:;<=>?@[^_`|~]"
    sock, reader = raw()
    # With a lone `&` (not modified UTF-7): no such mailbox, and none can be made under that name.
    for index, name in enumerate([punctuation.replace("$", "$&"), "&", "a&b"]):
        _, done = fetch(sock, reader, f"u{index}", f"SELECT {name}")
        expect(done.startswith(f"u{index} NO [NONEXISTENT]".encode()), f"SELECT {name}: {done!r}")
        _, done = fetch(sock, reader, f"v{index}", f"CREATE {name}")
        expect(done.startswith(f"v{index} NO [CANNOT]".encode()), f"CREATE {name}: {done!r}")
    for index, name in enumerate(["~foo", punctuation, "a]b", "x.y-z_1", "a&-b"]):
        for command in ["SELECT", "EXAMINE", "STATUS"]:
            tag = f"m{index}{command[0]}"
            line = f"{command} {name}" + (" (MESSAGES)" if command == "STATUS" else "")
            _, done = fetch(sock, reader, tag, line)
            expect(done.startswith(f"{tag} NO [NONEXISTENT]".encode()), f"{line}: {done!r}")
        _, done = fetch(sock, reader, f"c{index}", f"CREATE {name}")
        expect(done.startswith(f"c{index} OK".encode()), f"CREATE {name}: {done!r}")
        untagged, done = fetch(sock, reader, f"s{index}", f"SELECT {name}")
        expect(done.startswith(f"s{index} OK".encode()), f"SELECT {name} once created: {done!r}")
        untagged, done = fetch(sock, reader, f"l{index}", f'LIST "" "{name}"')
        expect(name.encode() in untagged, f"LIST {name}: {untagged!r}")
    _, done = fetch(sock, reader, "n", "NOOP")
    expect(done.startswith(b"n OK"), f"NOOP: {done!r}")
    sock.close()


INNER = (b"From: inner@example.org\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n"
         b"--inner\r\nContent-Type: text/plain\r\n\r\ninner plain\r\n"
         b"--inner\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\nPGI+aGk8L2I+\r\n"
         b"--inner--\r\n")
DEEPEST = b"Subject: deepest\r\nX-Level: 3\r\n\r\ndeep text\r\n"
DEEP = (b"Subject: middle\r\nContent-Type: message/rfc822\r\n\r\n" + DEEPEST)
DIGEST = (b"Subject: digest\r\nContent-Type: multipart/digest; boundary=d\r\n\r\n"
          b"--d\r\n\r\nSubject: first in digest\r\n\r\nfirst body\r\n"
          b"--d\r\n\r\n" + DEEP + b"\r\n--d--\r\n")


def attached_messages():
    """Part specifiers reach into attached messages (RFC 9051 §6.4.5): BODY[4] is the attached message,
    4.HEADER, 4.TEXT, 4.HEADER.FIELDS and .NOT its header and text, 4.1 the first part of its body,
    4.1.MIME that part's MIME header; in a multipart/digest, parts are messages by default; two levels
    deep and more. BODYSTRUCTURE and BINARY agree."""
    imap = mailbox_with("Attached", MULTIPART, DIGEST)
    # The line break before the outer boundary belongs to the boundary (RFC 2046 §5.1.1).
    inner = INNER[:-2]
    inner_header, inner_text = inner.split(b"\r\n\r\n", 1)
    wanted = {
        "4": inner,
        "4.HEADER": inner_header + b"\r\n\r\n",
        "4.TEXT": inner_text,
        "4.HEADER.FIELDS (Subject)": b"Subject: inner\r\n\r\n",
        "4.HEADER.FIELDS.NOT (Subject Content-Type)": b"From: inner@example.org\r\n\r\n",
        "4.1": b"inner plain",
        "4.1.MIME": b"Content-Type: text/plain\r\n\r\n",
        "4.2": b"PGI+aGk8L2I+",
        "4.2.MIME": b"Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n",
    }
    for section, expected in wanted.items():
        found = fetch_items(imap, 1, f"BODY.PEEK[{section}]")
        got = next(iter(found.values()), None)
        expect(got == expected, f"BODY[{section}] is {got!r}, not {expected!r}")
    deep_header, deep_text = DEEPEST.split(b"\r\n\r\n", 1)
    wanted = {
        "1": b"Subject: first in digest\r\n\r\nfirst body",
        "1.HEADER": b"Subject: first in digest\r\n\r\n",
        "1.TEXT": b"first body",
        "1.1": b"first body",
        "2": DEEP,
        "2.TEXT": DEEPEST,
        "2.1": DEEPEST,
        "2.1.HEADER": deep_header + b"\r\n\r\n",
        "2.1.TEXT": deep_text,
        "2.1.HEADER.FIELDS (X-Level)": b"X-Level: 3\r\n\r\n",
        "2.1.1": deep_text,
    }
    for section, expected in wanted.items():
        found = fetch_items(imap, 2, f"BODY.PEEK[{section}]")
        got = next(iter(found.values()), None)
        expect(got == expected, f"digest BODY[{section}] is {got!r}, not {expected!r}")
    typ, data = imap.fetch("2", "(BODYSTRUCTURE)")
    structure = data[0] if isinstance(data[0], bytes) else b"".join(p for item in data for p in (item if isinstance(item, tuple) else (item,)))
    expect(structure.count(b'"MESSAGE" "RFC822"') >= 3, f"digest parts are messages in BODYSTRUCTURE: {structure!r}")
    expect(b'"deepest"' in structure, f"BODYSTRUCTURE reaches the deepest message: {structure!r}")
    found = fetch_items(imap, 2, "BINARY.PEEK[2.1.1] BINARY.SIZE[2.1.1]")
    expect(found.get("BINARY[2.1.1]") == deep_text and found.get("BINARY.SIZE[2.1.1]") == len(deep_text),
           f"BINARY of a part two messages deep: {found!r}")
    imap.logout()


def lsub_parents():
    """LSUB with `%` lists the parent of a subscribed mailbox that `%` stops short of, \\Noselect when the
    parent is not subscribed itself (RFC 3501 §6.3.9); `*` lists the subscribed mailbox alone."""
    sock, reader = raw()
    for tag, command in [("c", "CREATE Parent/Kid"), ("s", "SUBSCRIBE Parent/Kid"), ("u", "UNSUBSCRIBE Parent")]:
        _, done = fetch(sock, reader, tag, command)
        expect(done.startswith(f"{tag} OK".encode()) or tag == "u", f"{command}: {done!r}")
    def lsub(tag, pattern):
        untagged, _ = fetch(sock, reader, tag, f'LSUB "" "{pattern}"')
        return {name.decode(): attributes.decode() for attributes, name in re.findall(rb'\* LSUB \(([^)]*)\) "/" "?([^"\r]*)"?\r\n', untagged)}
    listed = lsub("l1", "%")
    expect(listed.get("Parent") == "\\Noselect" and "Parent/Kid" not in listed, f'LSUB "" %: {listed!r}')
    listed = lsub("l2", "*")
    expect(listed.get("Parent/Kid") == "" and "Parent" not in listed, f'LSUB "" *: {listed!r}')
    listed = lsub("l3", "Parent/%")
    expect(listed == {"Parent/Kid": ""}, f'LSUB "" Parent/%: {listed!r}')
    fetch(sock, reader, "s2", "SUBSCRIBE Parent")
    listed = lsub("l4", "%")
    expect(listed.get("Parent") == "", f"LSUB once subscribed: {listed!r}")
    sock.close()


def subscriptions_outlive_mailboxes():
    """A subscription stays when its mailbox is deleted: LIST (SUBSCRIBED) shows it \\NonExistent and LSUB
    lists it, until UNSUBSCRIBE drops it; a mailbox created under the name again is subscribed."""
    sock, reader = raw()
    def listed(tag, command):
        untagged, done = fetch(sock, reader, tag, command)
        expect(done.startswith(f"{tag} OK".encode()), f"{command}: {done!r}")
        return {name.decode(): attributes.decode() for attributes, name in
                re.findall(rb'\* (?:LIST|LSUB) \(([^)]*)\) "/" "?([^"\r]*)"?\r\n', untagged)}
    for tag, command in [("c", "CREATE Gone"), ("s", "SUBSCRIBE Gone"), ("d", "DELETE Gone")]:
        _, done = fetch(sock, reader, tag, command)
        expect(done.startswith(f"{tag} OK".encode()), f"{command}: {done!r}")
    subscribed = listed("l1", 'LIST (SUBSCRIBED) "" "*"')
    expect(set(subscribed.get("Gone", "").split()) == {"\\Subscribed", "\\NonExistent"}, f"LIST (SUBSCRIBED): {subscribed!r}")
    expect("Gone" not in listed("l2", 'LIST "" "*"'), "a deleted mailbox in LIST")
    expect("Gone" in listed("l3", 'LSUB "" "*"'), "LSUB without the deleted mailbox's subscription")
    _, done = fetch(sock, reader, "c2", "CREATE Gone")
    expect("\\NonExistent" not in listed("l4", 'LIST (SUBSCRIBED) "" "G*"').get("Gone", "missing\\NonExistent"),
           "a mailbox created again under a subscribed name is subscribed")
    for tag, command in [("d2", "DELETE Gone"), ("u", "UNSUBSCRIBE Gone")]:
        _, done = fetch(sock, reader, tag, command)
        expect(done.startswith(f"{tag} OK".encode()), f"{command}: {done!r}")
    expect("Gone" not in listed("l5", 'LIST (SUBSCRIBED) "" "*"'), "UNSUBSCRIBE of a deleted mailbox's name")
    sock.close()


def idle_keepalive():
    """In IDLE the server says `* OK Still here` now and then (here every second), and DONE still ends it."""
    import time
    sock, reader = raw()
    fetch(sock, reader, "s", "SELECT INBOX")
    sock.sendall(b"i IDLE\r\n")
    expect(reader.readline().startswith(b"+"), "IDLE continuation")
    started = time.monotonic()
    heard = []
    while len(heard) < 2 and time.monotonic() - started < 10:
        line = reader.readline()
        if line.startswith(b"* OK"):
            heard.append(time.monotonic() - started)
    expect(len(heard) == 2 and heard[1] < 5, f"keepalives at {heard}")
    sock.sendall(b"DONE\r\n")
    while True:
        line = reader.readline()
        expect(line, "connection closed after DONE")
        if line.startswith(b"i "):
            expect(line.startswith(b"i OK"), f"DONE: {line!r}")
            break
    sock.close()


def recursive_match():
    """LIST (SUBSCRIBED RECURSIVEMATCH) (RFC 5258 §3.5): an unsubscribed parent the pattern matches is
    listed, with CHILDINFO, for a subscribed mailbox below; a subscribed mailbox with subscribed ones below
    has CHILDINFO too (as Dovecot 2.3 answers); RETURN (CHILDREN) adds \\HasChildren."""
    sock, reader = raw()
    for tag, command in [("c1", "CREATE Foo/Bar"), ("u1", "UNSUBSCRIBE Foo"), ("c2", "CREATE Top/Kid"), ("s2", "SUBSCRIBE Top")]:
        _, done = fetch(sock, reader, tag, command)
        expect(done.startswith(f"{tag} OK".encode()), f"{command}: {done!r}")

    def listed(tag, command):
        untagged, done = fetch(sock, reader, tag, command)
        expect(done.startswith(f"{tag} OK".encode()), f"{command}: {done!r}")
        return {name.decode(): (set(attributes.decode().split()), bool(info)) for attributes, name, info in
                re.findall(rb'\* LIST \(([^)]*)\) "/" "?([^"\r ]*)"?( \("?CHILDINFO"? \("SUBSCRIBED"\)\))?\r\n', untagged)}
    found = listed("l1", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)')
    expect(found.get("Foo") == ({"\\HasChildren"}, True), f"Foo: {found!r}")
    expect(found.get("Top") == ({"\\HasChildren", "\\Subscribed"}, True), f"Top: {found!r}")
    found = listed("l2", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "*"')
    expect(found.get("Foo/Bar", (set(), None))[0] >= {"\\Subscribed"}, f"* lists Foo/Bar itself: {found!r}")
    expect(found.get("Top", (None, False))[1] and not found.get("Top/Kid", (None, True))[1], f"CHILDINFO with *: {found!r}")
    found = listed("l3", 'LIST (SUBSCRIBED) "" "%"')
    expect("Foo" not in found and "Top" in found and not any(info for _, info in found.values()), f"without RECURSIVEMATCH: {found!r}")
    # The subscription below outlives its mailbox: the parent is still listed for it.
    fetch(sock, reader, "d", "DELETE Foo/Bar")
    found = listed("l4", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
    expect(found.get("Foo", (None, False))[1], f"Foo after Foo/Bar was deleted: {found!r}")
    sock.close()


def unauthenticate():
    """UNAUTHENTICATE (RFC 8437): back to not authenticated on the same TLS connection, the selected
    mailbox left as it was (no expunge), the limits before login in force again, and a new login works."""
    sock, reader = raw()
    untagged, done = fetch(sock, reader, "c", "CAPABILITY")
    expect(b"UNAUTHENTICATE" in untagged, f"UNAUTHENTICATE advertised after login: {untagged!r}")
    fetch(sock, reader, "m", "CREATE Unauth")
    fetch(sock, reader, "s", "SELECT Unauth")
    sock.sendall(b"a APPEND Unauth (\\Deleted) {13}\r\n")
    expect(reader.readline().startswith(b"+"), "APPEND continuation")
    sock.sendall(b"Subject: x\r\n\r\n")
    while not reader.readline().startswith(b"a "):
        pass
    _, done = fetch(sock, reader, "u", "UNAUTHENTICATE")
    expect(done.startswith(b"u OK"), f"UNAUTHENTICATE: {done!r}")
    _, done = fetch(sock, reader, "n", "NOOP")
    expect(done.startswith(b"n OK"), f"NOOP after UNAUTHENTICATE: {done!r}")
    _, done = fetch(sock, reader, "x", "SELECT INBOX")
    expect(done.startswith(b"x BAD"), f"SELECT when not authenticated: {done!r}")
    untagged, _ = fetch(sock, reader, "c2", "CAPABILITY")
    expect(b"AUTH=PLAIN" in untagged and b"UNAUTHENTICATE" not in untagged, f"CAPABILITY before login again: {untagged!r}")
    # Before login a literal is at most 8 KiB again: a larger synchronising one is BAD without +.
    sock.sendall(b"l LOGIN {9000}\r\n")
    line = reader.readline()
    expect(line.startswith(b"l BAD"), f"a 9,000-octet literal before login: {line!r}")
    _, done = fetch(sock, reader, "u2", "UNAUTHENTICATE")
    expect(done.startswith(b"u2 BAD"), f"UNAUTHENTICATE when not authenticated: {done!r}")
    _, done = fetch(sock, reader, "l2", f'LOGIN {USER} "{PASSWORD}"')
    expect(done.startswith(b"l2 OK"), f"LOGIN again: {done!r}")
    untagged, done = fetch(sock, reader, "t", "STATUS Unauth (MESSAGES)")
    expect(b"MESSAGES 1" in untagged, f"the \\Deleted message was not expunged: {untagged!r}")
    sock.close()


def condstore():
    """CONDSTORE (RFC 7162 §3.1): SELECT (CONDSTORE) tells HIGHESTMODSEQ; FETCH (CHANGEDSINCE) answers only
    what changed, with MODSEQ; flag changes made elsewhere arrive with MODSEQ; STORE (UNCHANGEDSINCE)
    leaves alone what changed since and names it in [MODIFIED]; SEARCH MODSEQ ends with the highest one."""
    imap = mailbox_with("Cond", *[f"Subject: {n}\r\n\r\nbody\r\n".encode() for n in (1, 2, 3)])
    sock, reader = raw()
    untagged, _ = fetch(sock, reader, "c", "CAPABILITY")
    expect(b" CONDSTORE" in untagged, f"CONDSTORE advertised: {untagged!r}")
    untagged, done = fetch(sock, reader, "s", "SELECT Cond (CONDSTORE)")
    highest = re.search(rb"\[HIGHESTMODSEQ (\d+)\]", untagged)
    expect(done.startswith(b"s OK") and highest, f"SELECT (CONDSTORE): {untagged!r}")
    selected_at = int(highest.group(1))
    untagged, done = fetch(sock, reader, "f1", f"FETCH 1:* (FLAGS) (CHANGEDSINCE {selected_at})")
    expect(done.startswith(b"f1 OK") and b"FETCH" not in untagged, f"nothing changed since SELECT: {untagged!r}")

    imap.store("2", "+FLAGS", "(\\Flagged)")
    untagged, _ = fetch(sock, reader, "n", "NOOP")
    told = re.search(rb"\* 2 FETCH \(UID \d+ FLAGS \(\\Flagged\) MODSEQ \((\d+)\)\)", untagged)
    expect(told and int(told.group(1)) > selected_at, f"a flag change made elsewhere, with MODSEQ: {untagged!r}")
    changed_at = int(told.group(1))
    untagged, _ = fetch(sock, reader, "f2", f"FETCH 1:* (FLAGS) (CHANGEDSINCE {selected_at})")
    expect(re.findall(rb"\* (\d+) FETCH", untagged) == [b"2"] and f"MODSEQ ({changed_at})".encode() in untagged,
           f"CHANGEDSINCE: {untagged!r}")

    untagged, done = fetch(sock, reader, "t", f"STORE 1:3 (UNCHANGEDSINCE {selected_at}) +FLAGS (\\Seen)")
    expect(done.startswith(b"t OK [MODIFIED 2]"), f"conditional STORE: {done!r}")
    expect(sorted(re.findall(rb"\* (\d+) FETCH \(FLAGS \(\\Seen\) MODSEQ \(\d+\)\)", untagged)) == [b"1", b"3"],
           f"the messages stored, with MODSEQ: {untagged!r}")
    typ, data = imap.fetch("2", "(FLAGS)")
    expect(b"\\Seen" not in data[0], f"message 2 left alone: {data!r}")
    untagged, done = fetch(sock, reader, "u", "UID STORE 1 (UNCHANGEDSINCE 18446744073) +FLAGS.SILENT ($Done)")
    expect(done.startswith(b"u OK") and re.search(rb"\* 1 FETCH \(UID \d+ MODSEQ \(\d+\)\)", untagged),
           f".SILENT still tells the MODSEQ: {untagged!r}")
    # A FETCH that sets \Seen changes the message: its new modseq is told too (RFC 7162 §3.2).
    untagged, done = fetch(sock, reader, "i", "FETCH 2 (BODY[TEXT])")
    told = re.search(rb"\* 2 FETCH \(UID \d+ MODSEQ \((\d+)\)\)", untagged)
    expect(done.startswith(b"i OK") and b"\\Seen" in untagged and told and int(told.group(1)) > changed_at,
           f"the implicit \\Seen with its MODSEQ: {untagged!r}")
    typ, data = imap.fetch("2", "(MODSEQ)")
    expect(told and f"MODSEQ ({int(told.group(1))})".encode() in data[0], f"the MODSEQ told is the stored one: {data!r}")

    untagged, _ = fetch(sock, reader, "q", f"SEARCH MODSEQ {changed_at}")
    found = re.search(rb"\* SEARCH ([\d ]+) \(MODSEQ (\d+)\)", untagged)
    expect(found and found.group(1).split() == [b"1", b"2", b"3"], f"SEARCH MODSEQ: {untagged!r}")
    untagged, _ = fetch(sock, reader, "qe", f'SEARCH MODSEQ "/flags/\\\\Seen" all {changed_at}')
    expect(re.search(rb"\* SEARCH ([\d ]+) \(MODSEQ", untagged) and found.group(0) in untagged,
           f"SEARCH MODSEQ with a flag's entry: {untagged!r}")
    untagged, _ = fetch(sock, reader, "st", "STATUS Cond (HIGHESTMODSEQ)")
    expect(f"HIGHESTMODSEQ {int(found.group(2))}".encode() in untagged, f"STATUS HIGHESTMODSEQ: {untagged!r}")
    sock.close()

    # ENABLE CONDSTORE (RFC 5161) on another session: SELECT tells HIGHESTMODSEQ without the parameter.
    sock, reader = raw()
    untagged, _ = fetch(sock, reader, "e", "ENABLE CONDSTORE")
    expect(b"* ENABLED CONDSTORE" in untagged, f"ENABLE CONDSTORE: {untagged!r}")
    untagged, _ = fetch(sock, reader, "s", "EXAMINE Cond")
    expect(b"[HIGHESTMODSEQ " in untagged, f"EXAMINE after ENABLE: {untagged!r}")
    _, done = fetch(sock, reader, "b", "FETCH 1 (FLAGS) (CHANGEDSINCE 0)")
    expect(done.startswith(b"b BAD"), f"CHANGEDSINCE 0: {done!r}")
    sock.close()
    imap.logout()


def qresync():
    """QRESYNC (RFC 7162 §3.2): with it enabled expunges are told as VANISHED; SELECT (QRESYNC (…)) tells
    a client what it missed since a modseq (VANISHED (EARLIER), then FETCH with MODSEQ); so does UID FETCH
    (CHANGEDSINCE n VANISHED); a second SELECT says [CLOSED]; without ENABLE the parameters are BAD."""
    imap = mailbox_with("Res", *[f"Subject: {n}\r\n\r\nbody\r\n".encode() for n in range(1, 6)])
    sock, reader = raw()
    _, done = fetch(sock, reader, "b", "SELECT Res (QRESYNC (1 1))")
    expect(done.startswith(b"b BAD"), f"QRESYNC without ENABLE: {done!r}")
    untagged, _ = fetch(sock, reader, "e", "ENABLE QRESYNC")
    expect(b"* ENABLED" in untagged and b"QRESYNC" in untagged, f"ENABLE QRESYNC: {untagged!r}")
    untagged, _ = fetch(sock, reader, "s", "SELECT Res")
    validity = int(re.search(rb"\[UIDVALIDITY (\d+)\]", untagged).group(1))
    known_at = int(re.search(rb"\[HIGHESTMODSEQ (\d+)\]", untagged).group(1))

    imap.uid("STORE", "2", "+FLAGS", "(\\Flagged)")
    imap.uid("STORE", "3", "+FLAGS", "(\\Deleted)")
    imap.expunge()
    imap.append("Res", None, None, b"Subject: 6\r\n\r\nbody\r\n")
    untagged, _ = fetch(sock, reader, "n", "NOOP")
    expect(b"* VANISHED 3\r\n" in untagged and b"EXPUNGE" not in untagged, f"an expunge told as VANISHED: {untagged!r}")
    expect(re.search(rb"FETCH \(UID 2 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)", untagged), f"the flag change: {untagged!r}")

    untagged, _ = fetch(sock, reader, "v", f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {known_at} VANISHED)")
    expect(b"* VANISHED (EARLIER) 3\r\n" in untagged, f"UID FETCH VANISHED: {untagged!r}")
    expect(sorted(re.findall(rb"UID (\d+)", untagged)) == [b"2", b"6"], f"UID FETCH CHANGEDSINCE: {untagged!r}")
    _, done = fetch(sock, reader, "x", f"FETCH 1:* (FLAGS) (CHANGEDSINCE {known_at} VANISHED)")
    expect(done.startswith(b"x BAD"), f"VANISHED without UID: {done!r}")
    untagged, _ = fetch(sock, reader, "s2", "SELECT INBOX")
    expect(b"* OK [CLOSED]" in untagged, f"[CLOSED] on a second SELECT: {untagged!r}")
    sock.close()

    # A client that knew the mailbox at `known_at` comes back.
    sock, reader = raw()
    fetch(sock, reader, "e", "ENABLE QRESYNC")
    untagged, done = fetch(sock, reader, "r", f"SELECT Res (QRESYNC ({validity} {known_at} 1:5))")
    expect(done.startswith(b"r OK"), f"SELECT (QRESYNC): {done!r}")
    expect(b"* VANISHED (EARLIER) 3\r\n" in untagged, f"VANISHED (EARLIER): {untagged!r}")
    fetched = re.findall(rb"\* \d+ FETCH \(UID (\d+) FLAGS \([^)]*\) MODSEQ \(\d+\)\)", untagged)
    expect(sorted(fetched) == [b"2", b"6"], f"what changed since: {untagged!r}")
    untagged, _ = fetch(sock, reader, "w", f"SELECT Res (QRESYNC ({validity + 1} {known_at}))")
    expect(b"VANISHED" not in untagged and b"MODSEQ (" not in untagged, f"another UIDVALIDITY: nothing to catch up: {untagged!r}")
    sock.close()
    imap.logout()


def sort():
    """SORT (RFC 5256) and SORT=DISPLAY (RFC 5957): by base subject, sent date (in UTC; arrival without
    one), arrival, first address's mailbox, display name, size, each reversible; UID SORT; a search key
    narrows; an unknown criterion is BAD, an unknown charset NO [BADCHARSET]."""
    import time
    imap = session()
    imap.create("Sorted")
    messages = [
        (b"From: Aaron <z@x.org>\r\nSubject: Re: banana\r\nDate: Sun, 01 Jan 2023 10:00:00 +0000\r\n\r\nb\r\n", 100),
        (b"From: alice@x.org (Ann)\r\nSubject: apple\r\nDate: Sun, 01 Jan 2023 23:00:00 -0500\r\n\r\n" + b"a" * 500 + b"\r\n", 300),
        (b"From: <bob@x.org>\r\nSubject: [list] Fwd: Cherry\r\nDate: not a date\r\n\r\n" + b"c" * 100 + b"\r\n", 200),
    ]
    for message, arrived_ago in messages:
        typ, data = imap.append("Sorted", None, imaplib.Time2Internaldate(time.time() - arrived_ago), message)
        expect(typ == "OK", f"APPEND: {data!r}")
    imap.select("Sorted")
    def sort_of(criteria, *search, charset="UTF-8", uid=False):
        typ, data = imap.uid("SORT", criteria, charset, *search) if uid else imap.sort(criteria, charset, *search)
        expect(typ == "OK", f"SORT {criteria}: {data!r}")
        return [int(n) for n in data[0].split()]
    for criteria, expected in [
        ("(SUBJECT)", [2, 1, 3]), ("(REVERSE SUBJECT)", [3, 1, 2]), ("(DATE)", [1, 2, 3]), ("(ARRIVAL)", [2, 3, 1]),
        ("(FROM)", [2, 3, 1]), ("(DISPLAYFROM)", [1, 2, 3]), ("(SIZE)", [1, 3, 2]), ("(REVERSE SIZE SUBJECT)", [2, 3, 1]),
    ]:
        expect(sort_of(criteria, "ALL") == expected, f"SORT {criteria}: {sort_of(criteria, 'ALL')}, not {expected}")
    expect(sort_of("(SUBJECT)", "FROM", "x.org", "NOT", "SUBJECT", "apple") == [1, 3], "SORT with a search key")
    # ESORT (RFC 5267): MIN and MAX in sort order, COUNT, ALL in sort order.
    capabilities = imap.capability()[1][0].split()
    expect(b"ESORT" in capabilities, f"ESORT advertised: {capabilities!r}")
    typ, data = imap._simple_command("SORT", "RETURN", "(MIN MAX COUNT ALL)", "(REVERSE SUBJECT)", "UTF-8", "ALL")
    answered = imap.untagged_responses.pop("ESEARCH", [b""])[-1]
    expect(typ == "OK" and answered.endswith(b"MIN 3 MAX 2 COUNT 3 ALL 3,1:2"), f"ESORT: {typ} {answered!r}")
    _, found = imap.uid("SEARCH", None, "ALL")
    uids = [int(n) for n in found[0].split()]
    expect(sort_of("(SUBJECT)", "ALL", uid=True) == [uids[1], uids[0], uids[2]], "UID SORT")
    try:
        imap.sort("(BOGUS)", "UTF-8", "ALL")
        expect(False, "an unknown sort criterion was accepted")
    except imaplib.IMAP4.error as error:
        expect("BAD" in str(error), f"unknown criterion: {error}")
    typ, data = imap.sort("(SUBJECT)", "KOI8-R", "ALL")
    expect(typ == "NO" and b"BADCHARSET" in data[0], f"unknown charset: {typ} {data!r}")
    imap.logout()


def thread():
    """THREAD=REFERENCES and THREAD=ORDEREDSUBJECT (RFC 5256 §4): replies under what they refer to,
    siblings by sent date, threads of one subject merged (the reply under the original); UID THREAD; a
    search key narrows; an unknown algorithm is BAD."""
    def message(identifier, subject, day, extra=b""):
        return (f"Message-ID: <{identifier}@x.example>\r\nSubject: {subject}\r\nDate: {day} Jan 2024 10:00:00 +0000\r\n".encode()
                + extra + b"\r\nbody\r\n")
    imap = mailbox_with(
        "Threads",
        message("a", "Plans", 1), message("b", "Re: Plans", 6, b"References: <a@x.example>\r\n"),
        message("c", "Re: Plans", 4, b"In-Reply-To: <a@x.example>\r\n"), message("d", "Other", 2),
        message("e", "Re: Other", 7))
    capabilities = imap.capability()[1][0].split()
    expect(b"THREAD=REFERENCES" in capabilities and b"THREAD=ORDEREDSUBJECT" in capabilities, f"{capabilities!r}")
    for algorithm in ("REFERENCES", "ORDEREDSUBJECT"):
        typ, data = imap.thread(algorithm, "UTF-8", "ALL")
        expect((typ, data) == ("OK", [b"(1 (3)(2))(4 5)"]), f"THREAD {algorithm}: {typ} {data!r}")
    typ, data = imap.thread("REFERENCES", "UTF-8", "SUBJECT", "Other")
    expect(data == [b"(4 5)"], f"THREAD with a search key: {data!r}")
    _, found = imap.uid("SEARCH", None, "ALL")
    uids = found[0].split()
    typ, data = imap.uid("THREAD", "REFERENCES", "UTF-8", "ALL")
    wanted = b"(%s (%s)(%s))(%s %s)" % (uids[0], uids[2], uids[1], uids[3], uids[4])
    expect(data == [wanted], f"UID THREAD: {data!r}, not {wanted!r}")
    try:
        imap.thread("BOGUS", "UTF-8", "ALL")
        expect(False, "an unknown algorithm was accepted")
    except imaplib.IMAP4.error as error:
        expect("BAD" in str(error), f"unknown algorithm: {error}")
    imap.logout()


CHECKS = [thread, sort, qresync, condstore, unauthenticate, recursive_match, idle_keepalive, subscriptions_outlive_mailboxes, lsub_parents, keywords_announced, envelope_addresses, sent_dates, address_search, binary_sizes, id_limits, atom_names,
          attached_messages]

if __name__ == "__main__":
    run_checks(CHECKS, set(sys.argv[3:]))
