"""mbsync (isync), an IMAP client nobody here wrote, copies alice's whole account (every folder, flags,
8-bit and dot-leading lines, a 200 KB attachment) to a local Maildir over IMAPS, then syncs changes made
on either side both ways, then copies the Maildir into bob's empty account: bob's folders and messages
must equal alice's, byte for byte and flag for flag.
Arguments: IMAPS port, CA certificate file, a working directory (created)."""
import os
import re
import subprocess
import sys

from maildir_sync import PASSWORD, change_both_sides, check, check_local_changes_reached, fill, maildir
import maildir_sync

port, cafile, work = int(sys.argv[1]), sys.argv[2], sys.argv[3]


def without_tracking(content):
    """mbsync writes its own tracking header (X-TUID, see mbsync(1)) into messages it copies; it is
    the only difference allowed."""
    return re.sub(rb"(?m)^X-TUID: [^\r\n]*\r\n", b"", content)


def connect(user):
    return maildir_sync.connect(port, cafile, user)


def snapshot(imap):
    return maildir_sync.snapshot(imap, without_tracking)


def mbsync(channel):
    run = subprocess.run(["mbsync", "-c", config, channel], capture_output=True, timeout=120)
    output = (run.stdout + run.stderr).decode(errors="replace")
    check(f"mbsync {channel} exits 0", run.returncode == 0, output)
    check(f"mbsync {channel} reports no error or warning", "error" not in output.lower() and "warning" not in output.lower(), output)


os.makedirs(work, exist_ok=True)
local = os.path.join(work, "mail")
for state in ("mail", "state-alice", "state-bob"):
    os.makedirs(os.path.join(work, state), exist_ok=True)
config = os.path.join(work, "mbsyncrc")
with open(config, "w") as handle:
    for user in ("alice", "bob"):
        handle.write(f"""IMAPAccount {user}
Host localhost
Port {port}
User {user}@example.org
Pass "{PASSWORD}"
SSLType IMAPS
CertificateFile {cafile}

IMAPStore {user}-remote
Account {user}

""")
    handle.write(f"""MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel alice
Far :alice-remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState {work}/state-alice/

Channel bob
Far :bob-remote:
Near :local:
Patterns *
Create Far
Sync Push
SyncState {work}/state-bob/
""")

alice = connect("alice")
fill(alice)
before = snapshot(alice)
check("alice holds 11 messages in 5 folders", sum(len(v) for v in before.values()) == 11
      and sum(1 for v in before.values() if v) == 5, {k: len(v) for k, v in before.items()})

# 1. The whole account down to the Maildir.
mbsync("alice")
copy = maildir(local, without_tracking)
expected = {("INBOX" if name == "INBOX" else name): entries for name, entries in before.items()}
check("the Maildir holds every folder of the account",
      sorted(copy) == sorted(expected), (sorted(copy), sorted(expected)))
check("every message arrived byte for byte with its flags", all(copy[name] == expected[name] for name in expected),
      [name for name in expected if copy.get(name) != expected[name]])

# 2. Changes on both sides, synced both ways.
change_both_sides(local, alice)
mbsync("alice")

alice.select("INBOX", readonly=True)
typ, data = alice.search(None, 'SUBJECT "to be deleted locally"')
check("a message trashed in the Maildir is expunged on the server", data == [b""], data)
alice.close()
check_local_changes_reached(alice)
after = snapshot(alice)
copy = maildir(local, without_tracking)
check("after the second sync the Maildir and the server agree",
      copy == after, sorted(set(copy) ^ set(after)) or [n for n in after if copy.get(n) != after[n]])
check("the changes are all there: the new folder, the new message, \\Seen set on the server",
      len(after["Later"]) == 1 and sorted(flags for _, flags in after["Work/Projects"]) == [[], ["\\Seen"]],
      after.get("Work/Projects"))

# 3. The Maildir up into bob's empty account: an account moved to another server.
mbsync("bob")
bob = connect("bob")
moved = snapshot(bob)
check("bob's account equals alice's: the same folders, messages byte for byte, flags",
      moved == after, sorted(set(moved) ^ set(after)) or [n for n in after if moved.get(n) != after[n]])
typ, data = bob.list('""', "Work*")
check("the hierarchy came along (Work has children)", any(b"\\HasChildren" in line and b"Work" in line for line in data), data)

# 4. Nothing left to do: a third sync changes nothing on either side.
mbsync("alice")
check("a sync with nothing to do changes nothing", snapshot(alice) == after and maildir(local, without_tracking) == after)
alice.logout()
bob.logout()
print("all checks passed")
