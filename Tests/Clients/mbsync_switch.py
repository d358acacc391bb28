#!/usr/bin/env python3
"""mbsync (isync), an IMAP client nobody here wrote, as a user who moves servers: it copies the account
from the old server into a local Maildir, then the same configuration is pointed at the new server and
synchronised again. mbsync keeps each folder's UIDVALIDITY and UIDs in its state; if the new server's
differed it would refuse ("UIDVALIDITY ... changed") or fetch everything again. Prints "downloaded N"
after the first sync and "again N" (the files after the second) and exits 1 on any difference.

usage: mbsync_switch.py WORK first OLD_PORT USER PASSWORD
       mbsync_switch.py WORK second NEW_IMAPS_PORT USER PASSWORD CERTIFICATE
"""
import os
import subprocess
import sys

work, step = sys.argv[1], sys.argv[2]
port, user, password = sys.argv[3], sys.argv[4], sys.argv[5]
local = os.path.join(work, "mail")
os.makedirs(os.path.join(work, "state"), exist_ok=True)
os.makedirs(local, exist_ok=True)
if step == "first":
    account = f'Host 127.0.0.1\nPort {port}\nUser {user}\nPass "{password}"\nSSLType None\nAuthMechs LOGIN\n'
else:
    # The server's self-signed certificate names localhost (mbsync checks the name even for a certificate
    # it was given).
    account = f'Host localhost\nPort {port}\nUser {user}\nPass "{password}"\nSSLType IMAPS\nCertificateFile {sys.argv[6]}\n'
config = os.path.join(work, "mbsyncrc")
with open(config, "w") as handle:
    handle.write(f"""IMAPAccount server
{account}
IMAPStore remote
Account server

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel move
Far :remote:
Near :local:
Patterns *
Create Near
Sync Pull
SyncState {work}/state/
""")


def files():
    count = 0
    for directory, _, names in os.walk(local):
        if os.path.basename(directory) in ("cur", "new"):
            count += len(names)
    return count


before = files()
run = subprocess.run(["mbsync", "-c", config, "move"], capture_output=True, timeout=120)
output = (run.stdout + run.stderr).decode(errors="replace")
# (Its notices about the local Maildir's own new UIDVALIDITY are no complaint.)
if run.returncode != 0 or any("UIDVALIDITY" in line and "changed" in line for line in output.splitlines()):
    print(output)
    sys.exit(1)
after = files()
if step == "first":
    print(f"downloaded {after}")
else:
    print(f"again {after}")
    if after != before:
        print(f"the second sync changed the local copy: {before} files before, {after} after\n{output}")
        sys.exit(1)
