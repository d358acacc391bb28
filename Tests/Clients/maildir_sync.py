"""Shared by the whole-account sync checks (mbsync, offlineimap): a test account's contents, what the
server holds of an account, and what a local Maildir holds, in one comparable shape
{folder: sorted [(content with CRLF, flags)]}."""
import imaplib
import os
import re
import ssl
import sys

PASSWORD = "correct horse battery"
MAILDIR_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen"}


def check(name, condition, detail=""):
    if not condition:
        print(f"FAIL {name}: {detail}")
        sys.exit(1)
    print(f"ok {name}", flush=True)


def connect(port, cafile, user):
    context = ssl.create_default_context(cafile=cafile)
    imap = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=context, timeout=30)
    imap.login(f"{user}@example.org", PASSWORD)
    return imap


def message(subject, body, extra=b""):
    return (b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: " + subject.encode()
            + b"\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <" + subject.replace(" ", ".").encode()
            + b"@example.org>\r\n" + extra + b"\r\n" + body)


def fill(imap):
    """Gives an account the special-use folders every account has, plus a hierarchy and a non-ASCII name,
    holding 11 messages: 8-bit text, dot-leading lines, a 200 KB attachment, each system flag."""
    for name in ("Work", "Work/Projects", "Entw&APw-rfe"):
        check(f"CREATE {name}", imap.create(f'"{name}"')[0] == "OK")
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
            typ, data = imap.append(f'"{name}"', flags, None, content)
            assert typ == "OK", (name, data)


def folders(imap):
    """Every selectable mailbox of the account, by its (modified UTF-7) name."""
    typ, data = imap.list('""', "*")
    names = []
    for line in data:
        match = re.match(rb'\((?P<attributes>[^)]*)\) (?:"."|NIL) (?P<name>.+)$', line)
        if match and b"\\Noselect" not in match.group("attributes"):
            names.append(match.group("name").decode().strip('"'))
    return sorted(names)


def snapshot(imap, without_tracking=lambda content: content, letters=MAILDIR_FLAGS):
    """{mailbox: sorted [(content, flags)]}: what a copy of the account must reproduce, with the flags
    a Maildir keeps as `letters` in its file names. A sync tool's own tracking header, which it writes
    into messages it uploads, is taken out by `without_tracking`."""
    result = {}
    for name in folders(imap):
        typ, _ = imap.select(f'"{name}"', readonly=True)
        assert typ == "OK", name
        typ, data = imap.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
        entries = []
        for item in data:
            if isinstance(item, tuple):
                flags = re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).decode().split()
                kept = sorted(flag for flag in flags if flag in letters.values())
                entries.append((without_tracking(item[1]), kept))
        result[name] = sorted(entries)
        imap.close()
    return result


def maildir(path, without_tracking=lambda content: content, letters=MAILDIR_FLAGS):
    """{folder: sorted [(content with CRLF, flags)]} of a local Maildir tree (one directory per folder,
    nested as the hierarchy), as `snapshot` gives the server's."""
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
            entries.append((without_tracking(content), sorted(letters[f] for f in info if f in letters)))
    return {folder: sorted(entries) for folder, entries in result.items()}


def mark_in_maildir(folder_path, marks):
    """What a mail client on the Maildir does to flag or trash a message: moves it into cur/ with the
    flag letters in its name. `marks` maps a Subject to the letter added."""
    for sub, file in [(sub, file) for sub in ("new", "cur") for file in os.listdir(os.path.join(folder_path, sub))]:
        with open(os.path.join(folder_path, sub, file), "rb") as handle:
            text = handle.read()
        base, _, info = file.partition(":2,")
        added = next((letter for subject, letter in marks.items() if b"Subject: " + subject.encode() + b"\r" in text
                      or b"Subject: " + subject.encode() + b"\n" in text), "")
        if added:
            os.rename(os.path.join(folder_path, sub, file),
                      os.path.join(folder_path, "cur", base + ":2," + "".join(sorted(info + added))))


def change_both_sides(local, imap):
    """Changes on either side before a sync: in the Maildir, a message flagged, one trashed and one written
    (as a mail client on it would: files moved into cur/ with the flag letters in their names, a new file
    in new/ with LF line ends); on the server, a message arrives and is seen, and a new folder gets one."""
    mark_in_maildir(os.path.join(local, "INBOX"), {"plain": "F", "to be deleted locally": "T"})
    with open(os.path.join(local, "Work", "new", "1764150000.local.host"), "wb") as handle:
        handle.write(message("written offline", b"composed in the Maildir\n").replace(b"\r\n", b"\n"))
    imap.select("Work/Projects")
    imap.append("Work/Projects", None, None, message("arrived meanwhile", b"new on the server\r\n"))
    imap.uid("STORE", "1", "+FLAGS", "(\\Seen)")
    imap.close()
    check("CREATE Later on the server", imap.create("Later")[0] == "OK")
    imap.append("Later", "(\\Flagged)", None, message("later", b"for later\r\n"))


def check_local_changes_reached(imap):
    """After the sync: the flag set and the message written in the Maildir are on the server."""
    imap.select("INBOX", readonly=True)
    typ, data = imap.search(None, "FLAGGED SUBJECT plain")
    check("a flag set in the Maildir reaches the server", data[0] != b"", data)
    imap.close()
    imap.select("Work", readonly=True)
    typ, data = imap.search(None, 'SUBJECT "written offline"')
    check("a message written in the Maildir is uploaded", data[0] != b"", data)
    typ, data = imap.fetch(data[0].split()[0], "(BODY.PEEK[TEXT])")
    check("... with CRLF line ends", data[0][1] == b"composed in the Maildir\r\n", data)
    imap.close()
