"""A message held whole and a message read a piece at a time get the same FETCH answers, byte for byte.
Two IMAP gateways serve one database: one holds every message whole for a FETCH (the reference), the
other reads every message a piece at a time (`imap.streamedMessageBytes` 0). Messages of varied and
malformed MIME structure, and large ones (parts far into them, an attachment with NUL once decoded),
are fetched item by item from both: BODY, BODYSTRUCTURE, sections of parts (HEADER, TEXT, MIME,
HEADER.FIELDS[.NOT], partials, parts that are not there) and BINARY (decoded, partial, SIZE, unknown
encodings), and SEARCH BODY and TEXT. Last, the streaming gateway answers BODYSTRUCTURE, a decoded 12 MB
attachment and a part's header fields of a 17 MB message, and SEARCH TEXT in it, while its memory grows by
far less than the message.
Arguments: IMAPS port of the whole-holding gateway, of the streaming one, the latter's pid, CA file."""
import base64
import imaplib
import quopri
import random
import re
import ssl
import sys
import time

from imap_raw import fetch, logged_in
from smtp_raw import check

whole_port, streamed_port, streamed_pid, cafile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
USER, PASSWORD = "alice@example.org", "correct horse battery"
context = ssl.create_default_context(cafile=cafile)
context.check_hostname = False
rng = random.Random(7)


def wrapped(data, width=76):
    return b"\r\n".join(data[i:i + width] for i in range(0, len(data), width)) + b"\r\n"


def forwarded(n, eol=b"\r\n"):
    """A message/rfc822 part holding a multipart/alternative (quoted-printable text, base64 HTML)."""
    html = base64.b64encode(b"<p>caf\xc3\xa9 %d</p>\x00" % n)
    return eol.join([
        b"Content-Type: message/rfc822", b"Content-Description: forwarded", b"",
        b"From: Inner <inner@example.com>", b"Subject: inner %d" % n, b"X-Note: kept",
        b"Content-Type: multipart/alternative; boundary=\"alt\"", b"",
        b"--alt", b"Content-Type: text/plain; charset=utf-8", b"Content-Transfer-Encoding: quoted-printable", b"",
        b"caf=C3=A9 =3D soft=", b"break  ", b"--alt", b"Content-Type: text/html", b"Content-Transfer-Encoding: base64", b"",
        html, b"--alt--", b""])


def mixed(n, text, attachment, eol=b"\r\n", closed=True):
    head = eol.join([
        b"From: Sender <s%d@example.net>" % n, b"To: alice@example.org", b"Subject: mixed %d" % n, b"MIME-Version: 1.0",
        b"Content-Type: multipart/mixed; boundary=\"m%d\"" % n, b"", b"preamble", b""])
    parts = [
        eol.join([b"Content-Type: text/plain; charset=utf-8", b"Content-Transfer-Encoding: quoted-printable", b"", text]),
        eol.join([b"Content-Type: application/octet-stream; name=\"a.bin\"", b"Content-Transfer-Encoding: base64",
                  b"Content-Disposition: attachment; filename=\"a.bin\"", b"", attachment]),
        forwarded(n, eol),
    ]
    body = b"".join(b"--m%d" % n + eol + part + eol for part in parts)
    return head + body + ((b"--m%d--" % n + eol + b"epilogue" + eol) if closed else b"")


def corpus():
    messages = [
        b"Subject: plain\r\n\r\nLine one.\r\n..dot\r\n",
        b"Subject: header only\r\n",
        b"Subject: no body\r\n\r\n",
        mixed(1, quopri.encodestring(b"caf\xc3\xa9 text\n" * 3).replace(b"\n", b"\r\n"), wrapped(base64.b64encode(bytes(range(256))))),
        mixed(2, b"bare LF text=3D", base64.b64encode(b"\x00\x01 lf"), eol=b"\n"),
        mixed(3, b"unclosed", b"QUJD", closed=False),
        # A digest (parts are messages by default), a part whose header is cut short by a delimiter, a
        # NUL in a text part, an encoding RFC 2045 does not define.
        b"Subject: digest\r\nContent-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: in digest\r\n\r\nbody\r\n"
        b"--d\r\nContent-Type: text/plain\r\n--d\r\nContent-Type: text/plain\r\n\r\nnul \x00 here\r\n"
        b"--d\r\nContent-Type: application/x-thing\r\nContent-Transfer-Encoding: x-custom\r\n\r\nzzz\r\n--d--\r\n",
        b"Subject: nested\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/related; boundary=i\r\n\r\n"
        b"--i\r\nContent-Type: text/plain\r\n\r\ninner text\r\n--o\r\nContent-Type: text/plain\r\n\r\nafter outer\r\n--o--\r\n",
    ]
    # Large: a 120 KB text part, a 900 KB attachment (random octets, NUL among them), a forwarded message
    # at the end; over several pieces of the store, so parts lie far into the message.
    text = quopri.encodestring(bytes(rng.choice(b"abc \xc3\xa9xyz\n") for _ in range(120_000))).replace(b"\n", b"\r\n")
    messages.append(mixed(4, text, wrapped(base64.b64encode(LARGE_ATTACHMENT))))
    return messages


LARGE_ATTACHMENT = bytes(rng.getrandbits(8) for _ in range(900_000))


ITEMS = [
    "BODY", "BODYSTRUCTURE", "ENVELOPE", "RFC822.SIZE", "BODY.PEEK[]<10.50>", "BODY.PEEK[HEADER]",
    "BODY.PEEK[HEADER.FIELDS (SUBJECT CONTENT-TYPE)]", "BODY.PEEK[1]", "BODY.PEEK[1.MIME]", "BODY.PEEK[1.HEADER]",
    "BODY.PEEK[1.TEXT]", "BODY.PEEK[2]", "BODY.PEEK[2]<100.1000>", "BODY.PEEK[2.MIME]", "BODY.PEEK[3]", "BODY.PEEK[3.HEADER]",
    "BODY.PEEK[3.TEXT]", "BODY.PEEK[3.HEADER.FIELDS (SUBJECT FROM)]", "BODY.PEEK[3.HEADER.FIELDS.NOT (SUBJECT)]<3.40>",
    "BODY.PEEK[3.1]", "BODY.PEEK[3.2]", "BODY.PEEK[3.1.MIME]", "BODY.PEEK[4]", "BODY.PEEK[1.2.3]", "BODY.PEEK[9]",
    "BODY.PEEK[9.HEADER.FIELDS (X)]", "BINARY.PEEK[]<0.64>", "BINARY.PEEK[1]", "BINARY.PEEK[2]", "BINARY.PEEK[2]<5.300>",
    "BINARY.PEEK[3]", "BINARY.PEEK[3.1]", "BINARY.PEEK[3.2]", "BINARY.PEEK[4]", "BINARY.SIZE[1]", "BINARY.SIZE[2]",
    "BINARY.SIZE[3.2]", "BINARY.SIZE[4]", "BINARY.PEEK[9]",
]

imap = imaplib.IMAP4_SSL("127.0.0.1", whole_port, ssl_context=context, timeout=60)
imap.login(USER, PASSWORD)
check("CREATE Parts", imap.create("Parts")[0] == "OK")
messages = corpus()
appender, appended = logged_in(whole_port, context, USER, PASSWORD)
for n, message in enumerate(messages):
    # A literal8 (RFC 3516): one message holds a NUL.
    appender.sendall(b"a%d APPEND Parts ~{%d}\r\n" % (n, len(message)))
    check(f"APPEND message {n + 1}: go ahead", appended.readline().startswith(b"+"))
    appender.sendall(message + b"\r\n")
    check(f"APPEND message {n + 1} ({len(message)} octets)", appended.readline().startswith(b"a%d OK" % n))
appender.close()
appended.close()

sessions = [logged_in(port, context, USER, PASSWORD) for port in (whole_port, streamed_port)]
for sock, reader in sessions:
    fetch(sock, reader, "s", "EXAMINE Parts")
differences = []
for number in range(1, len(messages) + 1):
    for index, item in enumerate(ITEMS):
        answers = [fetch(sock, reader, f"f{index}", f"FETCH {number} ({item})") for sock, reader in sessions]
        if answers[0] != answers[1]:
            differences.append((number, item, answers[0][0][:300] + answers[0][1], answers[1][0][:300] + answers[1][1]))
check(f"{len(messages)} messages × {len(ITEMS)} items: the same answers held whole and read in pieces", not differences,
      differences[:3])
together = "(UID BODYSTRUCTURE BODY.PEEK[1.MIME] BINARY.PEEK[2]<0.100> BODY.PEEK[3.HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT]<0.20>)"
answers = [fetch(sock, reader, "t", f"FETCH 4:* {together}") for sock, reader in sessions]
check("several items of every message with parts in one FETCH: the same", answers[0] == answers[1] and answers[0][1].startswith(b"t OK"),
      answers[0][1] + answers[1][1])
# SEARCH BODY and TEXT: the text parts decoded (a word joined across a soft line break, words in a
# base64 HTML part and in an attached message's header), the same found either way.
searches = ['BODY "softbreak"', 'BODY "caf"', 'TEXT "X-Note: kept"', 'TEXT "inner 4"', 'BODY "epilogue"', 'BODY "inner text"',
            'BODY "nul"', 'NOT BODY "zzz"', 'OR BODY "after outer" BODY "nothing-here"', 'BODY "abc"', 'TEXT "mixed 4" BODY "xyz"']
for index, criteria in enumerate(searches):
    results = [fetch(sock, reader, f"q{index}", f"SEARCH {criteria}") for sock, reader in sessions]
    check(f"SEARCH {criteria}: the same held whole and read in pieces ({results[0][0].strip().decode()})",
          results[0] == results[1] and results[0][1].startswith(b"q%d OK" % index), results)
found, _ = fetch(*sessions[1], "q", 'SEARCH BODY "softbreak" TEXT "inner 4" BODY "abc"')
check("the large message is found by words in its parts", found.split()[-1] == str(len(messages)).encode(), found)
large = len(messages)
decoded, done = fetch(*sessions[1], "b", f"FETCH {large} (BINARY.PEEK[2])")
check("BINARY[2] of the large message: the attachment's octets, NUL among them, in a literal8",
      done.startswith(b"b OK") and b"~{900000}" in decoded and decoded.split(b"}\r\n", 1)[1][:-3] == LARGE_ATTACHMENT,
      decoded[:80])

# Memory: a 17 MB message with a 12 MB attachment, taken apart by the streaming gateway.
attachment = bytes(rng.getrandbits(8) for _ in range(1 << 16)) * 192
huge = mixed(5, b"small text", wrapped(base64.b64encode(attachment)))
check(f"APPEND a {len(huge) >> 20} MB message", imap.append("Parts", None, None, huge)[0] == "OK")
imap.logout()


def memory_kb(field):
    with open(f"/proc/{streamed_pid}/status") as status:
        return int(re.search(rf"^{field}:\s+(\d+) kB", status.read(), re.M).group(1))


sock, reader = sessions[1]
fetch(sock, reader, "s2", "EXAMINE Parts")
time.sleep(0.3)
before = memory_kb("VmHWM")
answer, done = fetch(sock, reader, "h", f"FETCH {large + 1} (BODYSTRUCTURE BINARY.PEEK[2] BODY.PEEK[3.HEADER.FIELDS (SUBJECT)])")
searched, _ = fetch(sock, reader, "k", f'SEARCH {large + 1} TEXT "small text"')
grown_mb = (memory_kb("VmHWM") - before) / 1024
check("SEARCH TEXT finds it", searched.split()[-1] == str(large + 1).encode(), searched)
check("the 17 MB message's BODYSTRUCTURE, decoded attachment and part header fields arrive",
      done.startswith(b"h OK") and attachment in answer and b"Subject: inner 5" in answer and b"\"APPLICATION\" \"OCTET-STREAM\"" in answer,
      done + answer[:200])
print(f"the streaming gateway's peak memory grew by {grown_mb:.1f} MB for a {len(huge) / 1e6:.0f} MB message")
check("its peak memory grew by less than a third of the message", grown_mb < len(huge) / 3 / (1 << 20), grown_mb)
for sock, reader in sessions:
    sock.close()
    reader.close()
print("all checks passed")
