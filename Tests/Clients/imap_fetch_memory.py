"""FETCH 1:* BODY.PEEK[] of a mailbox of large messages is streamed: the server holds a
bounded part of it at a time and waits while the client does not read. 60 messages of 1 MB (60 MB) are
APPENDed, then fetched by a client that reads nothing for 3 s and then everything; every message must
arrive whole, and the server's RSS must stay far below what holding the whole answer takes.
Arguments: IMAPS port, CA certificate file, the server's pid."""
import imaplib
import re
import ssl
import sys
import time

from imap_raw import logged_in
from smtp_raw import check

port, cafile, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3]
USER, PASSWORD = "alice@example.org", "correct horse battery"
COUNT, SIZE = 60, 1 << 20
context = ssl.create_default_context(cafile=cafile)
context.check_hostname = False


def memory_kb(field):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(rf"^{field}:\s+(\d+) kB", status.read(), re.M).group(1))


imap = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=context, timeout=60)
imap.login(USER, PASSWORD)
check("CREATE Large", imap.create("Large")[0] == "OK")
messages = []
for n in range(COUNT):
    line = b"%04d " % n + b"y" * 72 + b"\r\n"  # different content each time: nothing is shared
    body = line * (SIZE // len(line))
    messages.append(b"Subject: large %d\r\n\r\n" % n + body)
    typ, _ = imap.append("Large", None, None, messages[-1])
    assert typ == "OK"
imap.logout()
time.sleep(0.5)
before = memory_kb("VmHWM")

sock, reader = logged_in(port, context, USER, PASSWORD)
sock.sendall(b"s EXAMINE Large\r\n")
while not reader.readline().startswith(b"s "):
    pass
sock.sendall(b"f FETCH 1:* BODY.PEEK[]\r\n")
time.sleep(3)  # not reading: the server must wait rather than buffer the whole answer
waiting = memory_kb("VmRSS")
received = []
while True:
    line = reader.readline()
    if not line or line.startswith(b"f "):
        check("FETCH completed", line.startswith(b"f OK"), line)
        break
    literal = re.search(rb"\{(\d+)\}\r\n$", line)
    if literal:
        received.append(reader.read(int(literal.group(1))))
peak = memory_kb("VmHWM")
check(f"all {COUNT} messages arrived byte for byte", received == messages, [len(r) for r in received][:5])
grown_mb = (peak - before) / 1024
waiting_mb = (waiting - before) / 1024
# Holding the whole answer at once took 250 MB more here (and 135 MB while the client did not read).
check(f"while the client did not read, the server's RSS grew by {waiting_mb:.0f} MB only (under 40 MB)", waiting_mb < 40,
      f"before {before} kB, while not reading {waiting} kB")
check(f"its peak RSS grew by {grown_mb:.0f} MB for a {COUNT} MB answer (under 120 MB)", grown_mb < 120,
      f"before {before} kB, peak {peak} kB")
sock.close()
print(f"all checks passed (peak grew {grown_mb:.1f} MB, {waiting_mb:.1f} MB while not reading)")
