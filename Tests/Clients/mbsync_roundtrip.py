"""mbsync (isync), an IMAP client nobody here wrote, copies alice's whole account (every folder, flags,
8-bit and dot-leading lines, a 200 KB attachment) to a local Maildir over IMAPS, then syncs changes made
on either side both ways, then copies the Maildir into bob's empty account: bob's folders and messages
must equal alice's, byte for byte and flag for flag.
Arguments: IMAPS port, CA certificate file, a working directory (created)."""
import imaplib
import os
import re
import ssl
import subprocess
import sys

port, cafile, work = int(sys.argv[1]), sys.argv[2], sys.argv[3]
PASSWORD = "correct horse battery"
MAILDIR_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen"}


def without_tracking(content):
    """mbsync writes its own tracking header (X-TUID, see mbsync(1)) into messages it copies; it is
    the only difference allowed."""
    return re.sub(rb"(?m)^X-TUID: [^\r\n]*\r\n", b"", content)


def check(name, condition, detail=""):
    if not condition:
        print(f"FAIL {name}: {detail}")
        sys.exit(1)
    print(f"ok {name}")


def connect(user):
    context = ssl.create_default_context(cafile=cafile)
    imap = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=context, timeout=30)
    imap.login(f"{user}@example.org", PASSWORD)
    return imap


def message(subject, body, extra=b""):
    return (b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: " + subject.encode()
            + b"\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <" + subject.replace(" ", ".").encode()
            + b"@example.org>\r\n" + extra + b"\r\n" + body)


def folders(imap):
    """Every selectable mailbox of the account, by its (modified UTF-7) name."""
    typ, data = imap.list('""', "*")
    names = []
    for line in data:
        match = re.match(rb'\((?P<attributes>[^)]*)\) (?:"."|NIL) (?P<name>.+)$', line)
        if match and b"\\Noselect" not in match.group("attributes"):
            names.append(match.group("name").decode().strip('"'))
    return sorted(names)


def snapshot(imap):
    """{mailbox: sorted [(content, flags)]}: what a copy of the account must reproduce."""
    result = {}
    for name in folders(imap):
        typ, _ = imap.select(f'"{name}"', readonly=True)
        assert typ == "OK", name
        typ, data = imap.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
        entries = []
        for item in data:
            if isinstance(item, tuple):
                flags = re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).decode().split()
                kept = sorted(flag for flag in flags if flag in MAILDIR_FLAGS.values())
                entries.append((without_tracking(item[1]), kept))
        result[name] = sorted(entries)
        imap.close()
    return result


def maildir(path):
    """{folder: sorted [(content with CRLF, flags)]} of the local Maildir mbsync keeps."""
    result = {}
    for root, directories, files in os.walk(path):
        if os.path.basename(root) not in ("cur", "new"):
            continue
        folder = os.path.relpath(os.path.dirname(root), path)
        entries = result.setdefault(folder, [])
        for file in files:
            with open(os.path.join(root, file), "rb") as handle:
                content = handle.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            info = file.split(":2,")[1] if ":2," in file else ""
            entries.append((without_tracking(content), sorted(MAILDIR_FLAGS[f] for f in info if f in MAILDIR_FLAGS)))
    return {folder: sorted(entries) for folder, entries in result.items()}


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

# alice's account: the special-use folders every account has, plus a hierarchy and a non-ASCII name.
alice = connect("alice")
for name in ("Work", "Work/Projects", "Entw&APw-rfe"):
    check(f"CREATE {name}", alice.create(f'"{name}"')[0] == "OK")
attachment = b"".join(b"%076d\r\n" % i for i in range(2600))
contents = {
    "INBOX": [
        (message("plain", b"Hello Alice.\r\n"), None),
        (message("dots", b".leading dot\r\n..two dots\r\n.\r\nafter a lone dot\r\n"), "(\\Seen)"),
        (message("eight bit", "Grüße aus Köln — €\r\n".encode(), b"Content-Type: text/plain; charset=utf-8\r\n"
                 b"Content-Transfer-Encoding: 8bit\r\n"), "(\\Seen \\Answered)"),
        (message("attachment", b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\n"
                 b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                 + attachment + b"--b--\r\n", b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n"),
         "(\\Flagged)"),
        (message("to be deleted locally", b"bye\r\n"), None),
    ],
    "Work": [(message(f"work {i}", b"report %d\r\n" % i), "(\\Seen)" if i % 2 else None) for i in range(3)],
    "Work/Projects": [(message("project", b"plan\r\n"), None)],
    "Entw&APw-rfe": [(message("draft", b"unfinished\r\n"), "(\\Draft)")],
    "Sent": [(message("sent", b"sent earlier\r\n"), "(\\Seen)")],
}
for name, items in contents.items():
    for content, flags in items:
        typ, data = alice.append(f'"{name}"', flags, None, content)
        assert typ == "OK", (name, data)
before = snapshot(alice)
check("alice holds 11 messages in 5 folders", sum(len(v) for v in before.values()) == 11
      and sum(1 for v in before.values() if v) == 5, {k: len(v) for k, v in before.items()})

# 1. The whole account down to the Maildir.
mbsync("alice")
copy = maildir(local)
expected = {("INBOX" if name == "INBOX" else name): entries for name, entries in before.items()}
check("the Maildir holds every folder of the account",
      sorted(copy) == sorted(expected), (sorted(copy), sorted(expected)))
check("every message arrived byte for byte with its flags", all(copy[name] == expected[name] for name in expected),
      [name for name in expected if copy.get(name) != expected[name]])

# 2. Changes on both sides, synced both ways.
# A mail client on the Maildir flags one message and trashes another (moving each into cur/ with its
# flags in the name, as Maildir readers do).
inbox = os.path.join(local, "INBOX")
for sub, file in [(sub, file) for sub in ("new", "cur") for file in os.listdir(os.path.join(inbox, sub))]:
    with open(os.path.join(inbox, sub, file), "rb") as handle:
        text = handle.read()
    base, _, info = file.partition(":2,")
    added = "F" if b"Subject: plain" in text else "T" if b"Subject: to be deleted locally" in text else ""
    if added:
        os.rename(os.path.join(inbox, sub, file), os.path.join(inbox, "cur", base + ":2," + "".join(sorted(info + added))))
with open(os.path.join(local, "Work", "new", "1764150000.local.host"), "wb") as handle:
    handle.write(message("written offline", b"composed in the Maildir\n").replace(b"\r\n", b"\n"))
alice.select("Work/Projects")
typ, _ = alice.append("Work/Projects", None, None, message("arrived meanwhile", b"new on the server\r\n"))
alice.uid("STORE", "1", "+FLAGS", "(\\Seen)")
alice.close()
check("CREATE Later on the server", alice.create("Later")[0] == "OK")
alice.append("Later", "(\\Flagged)", None, message("later", b"for later\r\n"))
mbsync("alice")

alice.select("INBOX", readonly=True)
typ, data = alice.search(None, 'SUBJECT "to be deleted locally"')
check("a message trashed in the Maildir is expunged on the server", data == [b""], data)
typ, data = alice.search(None, "FLAGGED SUBJECT plain")
check("a flag set in the Maildir reaches the server", data[0] != b"", data)
alice.close()
alice.select("Work", readonly=True)
typ, data = alice.search(None, 'SUBJECT "written offline"')
check("a message written in the Maildir is uploaded", data[0] != b"", data)
typ, data = alice.fetch(data[0].split()[0], "(BODY.PEEK[TEXT])")
check("... with CRLF line ends", data[0][1] == b"composed in the Maildir\r\n", data)
alice.close()
after = snapshot(alice)
copy = maildir(local)
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
check("a sync with nothing to do changes nothing", snapshot(alice) == after and maildir(local) == after)
alice.logout()
bob.logout()
print("all checks passed")
