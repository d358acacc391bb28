"""The account quota holds for IMAP as for delivery: an APPEND or COPY that would take the account over
its quota (set over the admin API) gets NO [OVERQUOTA] (RFC 9051 §7.1, RFC 9208) and changes nothing;
the session goes on; MOVE within the account adds nothing and still works; with room again, COPY works.
Arguments: IMAPS port, CA certificate file, admin port, admin token."""
import imaplib
import re
import ssl
import sys
import urllib.parse

from smtp_raw import admin_api, check

port, cafile, admin_port, token = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
USER, PASSWORD = "alice@example.org", "correct horse battery"
context = ssl.create_default_context(cafile=cafile)
context.check_hostname = False


def expect(name, got, wanted):
    check(name, got == wanted, f"got {got!r}, wanted {wanted!r}")


def api(method, path, body=None):
    return admin_api(admin_port, token, method, path, body)[1]


account = "accounts/" + urllib.parse.quote(USER)


def used():
    return api("GET", account)["usage"]["bytes"]


def message(n, size):
    head = f"From: q@example.net\r\nTo: {USER}\r\nSubject: quota {n}\r\n\r\n".encode()
    return head + b"x" * (size - len(head) - 2) + b"\r\n"


imap = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=context)
imap.login(USER, PASSWORD)

# QUOTA (RFC 9208): no quota, no quota root; with one, the root "" and its STORAGE in KiB; SETQUOTA is the
# administrator's (over the admin API), refused here.
capabilities = imap.capability()[1][0].split()
expect("QUOTA and QUOTA=RES-STORAGE advertised", b"QUOTA" in capabilities and b"QUOTA=RES-STORAGE" in capabilities, True)
status, data = imap.getquotaroot("INBOX")
expect("GETQUOTAROOT without a quota: no root", (status, [name.replace(b'"', b"") for name in data[0]]), ("OK", [b"INBOX"]))
status, data = imap.getquota('""')
expect("GETQUOTA without a quota: NO", status, "NO")
api("PATCH", account, {"quotaBytes": 10 * 1024 * 1024})
status, data = imap.getquotaroot("Trash")
expect("GETQUOTAROOT: the root", data[0] in ([b'Trash ""'], [b'"Trash" ""']), True)
expect("GETQUOTAROOT: the quota in KiB", data[1], [f'"" (STORAGE {(used() + 1023) // 1024} 10240)'.encode()])
status, data = imap.getquota('""')
expect("GETQUOTA", (status, data), ("OK", [f'"" (STORAGE {(used() + 1023) // 1024} 10240)'.encode()]))
status, data = imap.getquota("other")
expect("GETQUOTA of another root: NO", status, "NO")
status, data = imap.setquota('""', "(STORAGE 1)")
expect("SETQUOTA refused", (status, b"[NOPERM]" in data[0]), ("NO", True))
status, data = imap.getquotaroot("Nope")
expect("GETQUOTAROOT of a missing mailbox: NO", status, "NO")
expect("room for one", api("PATCH", account, {"quotaBytes": used() + 3000})["quotaBytes"] is not None, True)
status, _ = imap.append("INBOX", None, None, message(1, 2000))
expect("APPEND within the quota", status, "OK")
before = used()
status, data = imap.append("INBOX", None, None, message(2, 2000))
expect("APPEND over the quota: NO [OVERQUOTA]", (status, b"[OVERQUOTA]" in data[0]), ("NO", True))
expect("nothing stored", used(), before)
expect("the session goes on", imap.noop()[0], "OK")

status, data = imap.select("INBOX")
expect("SELECT", status, "OK")
_, found = imap.uid("SEARCH", None, 'SUBJECT "quota 1"')
uid = found[0].split()[-1].decode()
trash_before = imap.status("Trash", "(MESSAGES)")[1][0]
status, data = imap.uid("COPY", uid, "Trash")
expect("COPY over the quota: NO [OVERQUOTA]", (status, b"[OVERQUOTA]" in data[0]), ("NO", True))
expect("Trash unchanged", imap.status("Trash", "(MESSAGES)")[1][0], trash_before)
expect("usage unchanged after the refused COPY", used(), before)

status, data = imap.uid("MOVE", uid, "Trash")
expect("MOVE adds nothing: allowed", status, "OK")
expect("usage unchanged by MOVE", used(), before)

api("PATCH", account, {"quotaBytes": None})
imap.select("Trash")
_, found = imap.uid("SEARCH", None, 'SUBJECT "quota 1"')
status, _ = imap.uid("COPY", found[0].split()[-1].decode(), "INBOX")
expect("COPY with room again", status, "OK")
expect("usage grew by the copy", used() > before, True)

# STATUS DELETED and DELETED-STORAGE (RFC 9208 §4.2.1): what an EXPUNGE would free, in KiB as STORAGE is.
imap.append("INBOX", None, None, message(3, 5000))
imap.select("INBOX")
status, data = imap.status("INBOX", "(DELETED DELETED-STORAGE)")
expect("nothing flagged \\Deleted yet", (status, data[0].split(b"(")[1]), ("OK", b"DELETED 0 DELETED-STORAGE 0)"))
_, found = imap.uid("SEARCH", None, "ALL")
flagged = found[0].split()[:2]
for uid in flagged:
    imap.uid("STORE", uid.decode(), "+FLAGS", "(\\Deleted)")
_, sizes = imap.uid("FETCH", b",".join(flagged).decode(), "(RFC822.SIZE)")
octets = sum(int(re.search(rb"RFC822.SIZE (\d+)", line).group(1)) for line in sizes)
status, data = imap.status("INBOX", "(DELETED DELETED-STORAGE)")
expect("two messages flagged: their KiB", data[0].split(b"(")[1], f"DELETED 2 DELETED-STORAGE {(octets + 1023) // 1024})".encode())
imap.expunge()
status, data = imap.status("INBOX", "(DELETED-STORAGE)")
expect("after EXPUNGE nothing to free", data[0].split(b"(")[1], b"DELETED-STORAGE 0)")
imap.logout()
print("all checks passed")
