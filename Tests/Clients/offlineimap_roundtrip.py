"""offlineimap3, an IMAP client nobody here wrote, copies alice's whole account (every folder, flags, a
keyword mapped to a Maildir letter, 8-bit and dot-leading lines, a 200 KB attachment) to a local Maildir
over IMAPS with two connections, then syncs changes made on either side both ways, then syncs once more
with nothing to do: the server and the Maildir must agree byte for byte and flag for flag at every step.
Compression stays off: offlineimap's imaplib2 waits on the socket while decompressed data it has not
yet taken sits in zlib (offlineimap3 issue #117, seen against other servers too), so a highly
compressible message that arrives in one piece stalls it.
Arguments: IMAPS port, CA certificate file, a working directory (created)."""
import os
import subprocess
import sys

from maildir_sync import (MAILDIR_FLAGS, PASSWORD, change_both_sides, check, check_local_changes_reached, connect, fill,
                          maildir, snapshot)

port, cafile, work = int(sys.argv[1]), sys.argv[2], sys.argv[3]
KEYWORD = "$Label1"


# The keyword is a Maildir letter locally (`customflag_a`) and a flag on the server; offlineimap keeps
# a message trashed in the Maildir (T) and sets \Deleted on the server, as a client that expunges later.
LETTERS = dict(MAILDIR_FLAGS, a=KEYWORD, T="\\Deleted")


def server(imap):
    return snapshot(imap, letters=LETTERS)


def local_side():
    return maildir(local, letters=LETTERS)


def offlineimap():
    run = subprocess.run(["offlineimap", "-c", config, "-o", "-u", "basic"], capture_output=True, timeout=180)
    output = (run.stdout + run.stderr).decode(errors="replace")
    check("offlineimap exits 0", run.returncode == 0, output)
    check("offlineimap reports no error or warning", "error" not in output.lower() and "warning" not in output.lower(), output)
    return output


os.makedirs(work, exist_ok=True)
local = os.path.join(work, "mail")
os.makedirs(local, exist_ok=True)
config = os.path.join(work, "offlineimaprc")
with open(config, "w") as handle:
    handle.write(f"""[general]
accounts = alice
metadata = {work}/metadata

[Account alice]
localrepository = alice-local
remoterepository = alice-remote

[Repository alice-local]
type = Maildir
localfolders = {local}
sep = /
customflag_a = {KEYWORD}

[Repository alice-remote]
type = IMAP
remotehost = localhost
remoteport = {port}
ssl = yes
starttls = no
sslcacertfile = {cafile}
remoteuser = alice@example.org
remotepass = {PASSWORD}
usecompression = no
maxconnections = 2
expunge = yes
""")

alice = connect(port, cafile, "alice")
fill(alice)
alice.select("INBOX")
typ, data = alice.uid("STORE", "1:2", "+FLAGS", f"({KEYWORD})")
check("a keyword on two messages", typ == "OK", data)
alice.close()
before = server(alice)
check("alice holds 11 messages in 5 folders", sum(len(v) for v in before.values()) == 11
      and sum(1 for v in before.values() if v) == 5, {k: len(v) for k, v in before.items()})

# 1. The whole account down to the Maildir.
offlineimap()
copy = local_side()
check("the Maildir holds every folder of the account", sorted(copy) == sorted(before), (sorted(copy), sorted(before)))
check("every message arrived byte for byte with its flags and keyword", copy == before,
      [name for name in before if copy.get(name) != before[name]])

# 2. Changes on both sides, synced both ways.
# The Maildir side sets system flags only: offlineimap 8.0.0 sends a keyword letter set in the Maildir as
# an empty `+FLAGS ()`, then takes the letter away as the server has not got it. The server side adds a
# keyword too.
change_both_sides(local, alice)
alice.select("INBOX")
typ, data = alice.uid("SEARCH", "SUBJECT", "attachment")
alice.uid("STORE", data[0].decode(), "+FLAGS", f"({KEYWORD})")
alice.close()
offlineimap()

alice.select("INBOX", readonly=True)
typ, data = alice.search(None, 'DELETED SUBJECT "to be deleted locally"')
check("a message trashed in the Maildir is flagged \\Deleted on the server", data[0] != b"", data)
alice.close()
check_local_changes_reached(alice)
after = server(alice)
copy = local_side()
check("after the second sync the Maildir and the server agree",
      copy == after, sorted(set(copy) ^ set(after)) or [n for n in after if copy.get(n) != after[n]])
check("the changes are all there: the new folder, the new message, \\Seen and the keyword set on the server",
      len(after["Later"]) == 1 and sorted(flags for _, flags in after["Work/Projects"]) == [[], ["\\Seen"]]
      and sum(KEYWORD in flags for _, flags in after["INBOX"]) == 3, after.get("Work/Projects"))

# 3. The trashed message expunged on the server: the next sync takes it out of the Maildir.
alice.select("INBOX")
check("EXPUNGE on the server", alice.expunge()[0] == "OK")
alice.close()
offlineimap()
after = server(alice)
check("an expunge on the server reaches the Maildir", local_side() == after
      and not any(b"Subject: to be deleted locally" in content for content, _ in after["INBOX"]), after["INBOX"])

# 4. Nothing left to do: another sync changes nothing on either side.
offlineimap()
check("a sync with nothing to do changes nothing", server(alice) == after and local_side() == after)
alice.logout()
print("all checks passed")
