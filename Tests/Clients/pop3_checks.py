#!/usr/bin/env python3
"""POP3 end to end with Python's poplib (a client nobody here wrote) and raw sockets.

usage: pop3_checks.py SMTP_PORT POP3_PORT POP3S_PORT CA_FILE
The account alice@example.org / "correct horse battery" exists and its INBOX is empty. Mail is put
there through SMTP; each check waits (bounded) for the worker to deliver it.
Prints "ok <check>" per check and "all checks passed" at the end; exits 1 at the first failure.
"""
import poplib
import smtplib
import socket
import ssl
import sys
import time

from smtp_raw import HOST, check

smtp_port, pop3_port, pop3s_port, ca_file = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
USER, PASSWORD = "alice@example.org", "correct horse battery"
context = ssl.create_default_context(cafile=ca_file)
context.check_hostname = False

# Byte-exact content: lines starting with dots, a lone dot, 8-bit text, binary-looking bytes (no NUL:
# SMTP refuses it), and long lines.
TRICKY = (b"Subject: tricky\r\nFrom: carol@remote.example\r\n\r\n"
          b".starts with a dot\r\n..two dots\r\n.\r\nafter a lone dot\r\n"
          b"caf\xc3\xa9 \xe2\x82\xac 8-bit\r\n" + bytes(range(1, 9)) + bytes(range(14, 32)) + bytes(range(128, 256)) + b"\r\n"
          + b"x" * 990 + b"\r\nend\r\n")


def send(subject, body=None):
    message = body if body is not None else f"Subject: {subject}\r\nFrom: carol@remote.example\r\n\r\nbody of {subject}\r\n".encode()
    client = smtplib.SMTP(HOST, smtp_port, timeout=15)
    client.sendmail("carol@remote.example", ["alice@example.org"], message)
    client.quit()


def tls_session():
    session = poplib.POP3(HOST, pop3_port, timeout=15)
    session.stls(context)
    session.user(USER)
    session.pass_(PASSWORD)
    return session


def wait_for(count, deadline=30):
    """Logs in until the maildrop holds `count` messages (each login sees a new snapshot)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        session = tls_session()
        stat = session.stat()
        session.quit()
        if stat[0] >= count:
            return stat
        time.sleep(0.2)
    check("delivery", False, f"fewer than {count} messages after {deadline} s")


def raw(port=pop3_port, tls=False):
    sock = socket.create_connection((HOST, port), timeout=15)
    if tls:
        sock = context.wrap_socket(sock, server_hostname="localhost")
    reader = sock.makefile("rb")

    def line():
        return reader.readline().decode(errors="replace").rstrip("\r\n")

    def command(text):
        sock.sendall(text.encode() + b"\r\n")
        return line()

    def close():
        reader.close()
        sock.close()
    return sock, line, command, close


# --- Before TLS: STLS offered, logins refused in plaintext ---
sock, line, command, close = raw()
check("greeting", line().startswith("+OK"))
sock.sendall(b"CAPA\r\n")
caps = []
first = line()
while True:
    item = line()
    if item == "." or not item:
        break
    caps.append(item)
check("CAPA before TLS", first.startswith("+OK") and "STLS" in caps and "USER" not in caps and "UIDL" in caps
      and "TOP" in caps and "RESP-CODES" in caps and "PIPELINING" in caps, f"{caps}")
check("USER refused before TLS", command("USER alice@example.org").startswith("-ERR"))
check("unknown command", command("XYZZY").startswith("-ERR"))
check("command in the wrong state", command("STAT").startswith("-ERR"))
check("10 KB line: -ERR and the session goes on", command("NOOP " + "x" * 10_000).startswith("-ERR") and command("QUIT").startswith("+OK"))
close()

# --- Mail arrives through SMTP; poplib over STLS: STAT, LIST, UIDL, TOP, RETR ---
# One at a time, so that the UIDs follow the order of sending.
send("first")
wait_for(1)
send("second")
wait_for(2)
send("tricky", TRICKY)
count, size = wait_for(3)
check("STAT", count == 3 and size > len(TRICKY), f"{count} {size}")
session = tls_session()
response, listing, _ = session.list()
sizes = {int(n): int(s) for n, s in (entry.decode().split() for entry in listing)}
check("LIST", response.startswith(b"+OK") and sorted(sizes) == [1, 2, 3] and sum(sizes.values()) == size, f"{listing}")
check("LIST n", session.list(2).split()[2] == str(sizes[2]).encode())
response, uids, _ = session.uidl()
unique = [entry.decode().split()[1] for entry in uids]
check("UIDL", len(set(unique)) == 3 and all(0 < len(u) <= 70 for u in unique), f"{unique}")
check("UIDL n", session.uidl(1).split()[2].decode() == unique[0])
response, lines, octets = session.retr(3)
content = b"\r\n".join(lines) + b"\r\n"
check("RETR byte-exact (dots, 8-bit, binary-looking)", content.endswith(TRICKY), f"{content[-300:]!r}")
check("LIST size matches what RETR sends", octets == sizes[3], f"{octets} vs {sizes[3]}")
response, lines, _ = session.top(1, 0)
check("TOP n 0", b"Subject: first" in lines and not any(b"body of first" in l for l in lines), f"{lines}")
response, lines, _ = session.top(1, 1)
check("TOP n 1", lines[-1] == b"body of first", f"{lines}")
try:
    session.retr(9)
    check("RETR out of range", False)
except poplib.error_proto as error:
    check("RETR out of range", str(error).startswith("b'-ERR"), str(error))

# --- Exclusive access: a second session gets [IN-USE] ---
try:
    tls_session()
    check("second session refused [IN-USE]", False)
except poplib.error_proto as error:
    check("second session refused [IN-USE]", "[IN-USE]" in str(error), str(error))

# --- DELE, DELE again, RSET, and deletion only at QUIT ---
session.dele(1)
try:
    session.dele(1)
    check("DELE twice", False)
except poplib.error_proto as error:
    check("DELE twice", "-ERR" in str(error))
check("STAT after DELE", session.stat()[0] == 2)
session.rset()
check("RSET", session.stat()[0] == 3)
session.dele(1)
check("QUIT", session.quit().startswith(b"+OK"))
session = tls_session()
check("deleted at QUIT, UIDs stable", session.stat()[0] == 2 and [e.decode().split()[1] for e in session.uidl()[1]] == unique[1:])

# --- A dropped connection between DELE and QUIT deletes nothing (and frees the maildrop) ---
session.dele(1)
session.file.close()
session.sock.close()
time.sleep(0.5)
session = tls_session()
check("dropped connection deletes nothing", session.stat()[0] == 2)
send("third")
time.sleep(1.5)
check("not during the session", session.stat()[0] == 2)
session.quit()
check("but in the next", wait_for(3)[0] == 3)

# --- POP3S (implicit TLS), AUTH PLAIN with an initial response ---
session = poplib.POP3_SSL(HOST, pop3s_port, context=context, timeout=15)
caps = session.capa()
check("CAPA over TLS", "USER" in caps and "SASL" in caps and "STLS" not in caps, f"{caps}")
import base64
token = base64.b64encode(b"\0" + USER.encode() + b"\0" + PASSWORD.encode()).decode()
check("AUTH PLAIN with initial response", session._shortcmd("AUTH PLAIN " + token).startswith(b"+OK"))
check("POP3S STAT", session.stat()[0] == 3)
session.quit()

# --- STLS with CAPA pipelined in plaintext: the CAPA is dropped, never answered inside TLS ---
sock = socket.create_connection((HOST, pop3_port), timeout=15)
greeting = sock.recv(200)
sock.sendall(b"STLS\r\nCAPA\r\n")
ready = b""
while not ready.endswith(b"\r\n"):
    ready += sock.recv(1)
tls = context.wrap_socket(sock, server_hostname="localhost")
reader = tls.makefile("rb")
tls.sendall(b"NOOP\r\n")
first = reader.readline()
check("STLS pipelined CAPA dropped", ready.startswith(b"+OK") and first.startswith(b"-ERR"), f"{ready!r} {first!r}")
tls.sendall(b"STLS\r\n")
check("STLS twice", reader.readline().startswith(b"-ERR"))
# --- AUTH PLAIN cancelled, and with invalid base64 ---
tls.sendall(b"AUTH PLAIN\r\n")
check("AUTH PLAIN continuation", reader.readline().startswith(b"+ "))
tls.sendall(b"*\r\n")
check("AUTH cancelled with *", reader.readline().startswith(b"-ERR"))
tls.sendall(b"AUTH PLAIN !!!notbase64\r\n")
check("AUTH with invalid base64", reader.readline().startswith(b"-ERR"))
tls.sendall(b"USER " + USER.encode() + b"\r\nPASS " + PASSWORD.encode() + b"\r\n")
check("USER/PASS pipelined", reader.readline().startswith(b"+OK") and reader.readline().startswith(b"+OK"))
tls.sendall(b"STLS\r\n")
check("STLS after login", reader.readline().startswith(b"-ERR"))
# --- Numbers out of range or malformed ---
for bad in [b"RETR 0", b"RETR -1", b"RETR 99999999999999999999", b"LIST abc", b"TOP 1 -5", b"TOP 1 4294967296", b"UIDL 4"]:
    tls.sendall(bad + b"\r\n")
    check(f"{bad.decode()}", reader.readline().startswith(b"-ERR"))
tls.sendall(b"DELE 1\r\nRETR 1\r\nLIST 1\r\n")
check("RETR and LIST of a deleted message", reader.readline().startswith(b"+OK") and reader.readline().startswith(b"-ERR")
      and reader.readline().startswith(b"-ERR"))
# --- After 20 errors the connection is closed ---
replies = []
for _ in range(25):
    try:
        tls.sendall(b"BOGUS\r\n")
        line = reader.readline()
    except OSError:
        break
    if not line:
        break
    replies.append(line)
check("too many errors close the connection", 5 <= len(replies) <= 20 and b"Too many errors" in replies[-1], f"{len(replies)} {replies[-1:]!r}")
reader.close()
tls.close()
time.sleep(0.3)
session = tls_session()
check("nothing deleted by the closed session", session.stat()[0] == 3)
session.quit()

# --- Many messages, read in windows: every RETR is byte-exact whatever the order, past deleted ones,
# --- after TOP, twice, and for a message larger than a whole read-ahead window ---
bodies = {}
client = smtplib.SMTP(HOST, smtp_port, timeout=15)
for n in range(37):
    subject = f"bulk {n:02d}"
    body = (f"line of {subject}\r\n".encode() * (n * 7 + 1)) + b".dot line\r\n" + (b"." if n % 5 == 0 else b"") + b"end\r\n"
    if n == 20:
        body = (b"0123456789" * 99 + b"\r\n") * 300  # about 300 KB
    bodies[subject.encode()] = body
    client.sendmail("carol@remote.example", ["alice@example.org"], f"Subject: {subject}\r\n\r\n".encode() + body)
client.quit()
count, _ = wait_for(40, deadline=60)
session = tls_session()
sizes = {int(n): int(s) for n, s in (entry.decode().split() for entry in session.list()[1])}


def fetch_checked(number, label):
    response, lines, octets = session.retr(number)
    content = b"\r\n".join(lines) + b"\r\n"
    if octets != sizes[number]:
        check(label, False, f"RETR {number}: {octets} octets, LIST said {sizes[number]}")
    subject = next((l[len(b"Subject: "):] for l in lines if l.startswith(b"Subject: ")), None)
    if subject in bodies and not content.endswith(f"Subject: {subject.decode()}\r\n\r\n".encode() + bodies[subject]):
        check(label, False, f"RETR {number} ({subject!r}) content differs")
    return subject


seen = [fetch_checked(n, "RETR in order") for n in range(1, 41)]
check("RETR in order, byte-exact, 40 messages", sorted(s for s in seen if s in bodies) == sorted(bodies), f"{seen}")
check("RETR in reverse order", [fetch_checked(n, "RETR in reverse order") for n in range(40, 0, -1)] == seen[::-1])
for n in (4, 5, 6, 30):
    session.dele(n)
check("RETR past deleted messages", [fetch_checked(n, "RETR past deleted") for n in (3, 7, 8)] == [seen[2], seen[6], seen[7]])
session.top(10, 0)
check("TOP then RETR of the same message, twice", fetch_checked(10, "TOP then RETR") == seen[9] and fetch_checked(10, "RETR again") == seen[9])
session.rset()
check("RETR after RSET", fetch_checked(5, "RETR after RSET") == seen[4])
expected = {n: b"\r\n".join(session.retr(n)[1]) + b"\r\n" for n in (1, 2, 3, 40)}
session.quit()

# --- PIPELINING (RFC 2449): a burst of commands in one write is answered in order, whether a
# --- command is answered from the read-ahead window or needs the store or is an error ---
sock = socket.create_connection((HOST, pop3s_port), timeout=15)
tls = context.wrap_socket(sock, server_hostname="localhost")
reader = tls.makefile("rb")
reader.readline()
tls.sendall(f"USER {USER}\r\nPASS {PASSWORD}\r\n".encode())
check("pipelined login", reader.readline().startswith(b"+OK") and reader.readline().startswith(b"+OK"))


def multiline():
    lines = []
    while (line := reader.readline()) not in (b".\r\n", b""):
        lines.append(line[1:] if line.startswith(b"..") else line)
    return b"".join(lines)


tls.sendall(b"RETR 1\r\nRETR 2\r\nSTAT\r\nDELE 3\r\nRETR 3\r\nLIST 2\r\nRETR 40\r\nUIDL 2\r\nRSET\r\nRETR 3\r\nNOOP\r\n")
answers = []
for command in ["RETR", "RETR", "STAT", "DELE", "ERR", "LIST", "RETR", "UIDL", "RSET", "RETR", "NOOP"]:
    status = reader.readline()
    answers.append((command, status, multiline() if command == "RETR" and status.startswith(b"+OK") else None))
check("pipelined burst: statuses in order",
      [a[1][:3] for a in answers] == [b"+OK"] * 4 + [b"-ER"] + [b"+OK"] * 6
      and answers[2][1].startswith(b"+OK 40 ") and answers[5][1] == f"+OK 2 {sizes[2]}\r\n".encode()
      and answers[7][1].startswith(b"+OK 2 "), f"{[a[1] for a in answers]}")
check("pipelined burst: RETR contents byte-exact",
      [answers[i][2] for i in (0, 1, 6, 9)] == [expected[n] for n in (1, 2, 40, 3)])
tls.sendall(b"QUIT\r\n")
check("pipelined burst: QUIT", reader.readline().startswith(b"+OK"))
reader.close()
tls.close()
session = tls_session()
for n, subject in enumerate(seen, start=1):
    if subject in bodies:
        session.dele(n)
session.quit()
check("the bulk messages deleted again", wait_for(3)[0] == 3)

# --- Wrong password: -ERR [AUTH], after a delay ---
session = poplib.POP3_SSL(HOST, pop3s_port, context=context, timeout=15)
session.user(USER)
try:
    session.pass_("wrong password")
    check("wrong password", False)
except poplib.error_proto as error:
    check("wrong password gives [AUTH]", "[AUTH]" in str(error), str(error))
session.close()

print("all checks passed")
