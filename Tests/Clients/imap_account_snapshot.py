#!/usr/bin/env python3
"""Fills an IMAP account with a mix of folders, messages, flags, keywords and received times, and takes
snapshots of accounts to compare two servers (the Dovecot import test).

  imap_account_snapshot.py fill PORT USER PASSWORD [FOLDER ...]
      creates folders (by default a set with one in non-ASCII letters; else the ones named), appends messages with flags, keywords and dates
      (bare-LF and CRLF ones, a body with "From " lines), expunges some (so UIDs have gaps), and
      changes the subscriptions
  imap_account_snapshot.py change PORT USER PASSWORD
      what a user does between a first import and the switch: flags and a new keyword on INBOX's first
      message, \\Draft on its second, its third expunged, and Archive's last message given $Label5
  imap_account_snapshot.py snapshot PORT USER PASSWORD
      prints one JSON object: per selectable mailbox (by name) its subscription, UIDVALIDITY, UIDNEXT and each
      message's UID, flags (sorted, without \\Recent), INTERNALDATE and the SHA-256 of its content

Loopback only; every call has a timeout.
"""
import hashlib
import imaplib
import json
import re
import ssl
import sys
import time

FOLDERS = ["Archive", "Archive/2025", "Sent", "Work", "Répertoire-été"]


def connect(port, user, password):
    client = imaplib.IMAP4("127.0.0.1", int(port), timeout=30)
    if "STARTTLS" in client.capabilities:
        # The test servers' certificates are self-signed: encrypted, not verified.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        client.starttls(context)
    client.login(user, password)
    return client


def utf7(name):
    """IMAP's modified UTF-7 (RFC 3501 5.1.3)."""
    out, pending = [], []

    def flush():
        if pending:
            import base64
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).decode().rstrip("=").replace("/", ",")
            out.append("&" + encoded + "-")
            pending.clear()

    for character in name:
        if 0x20 <= ord(character) <= 0x7E:
            flush()
            out.append("&-" if character == "&" else character)
        else:
            pending.append(character)
    flush()
    return "".join(out)


def unquoted(name):
    """A LIST response's mailbox as it is (in modified UTF-7): a quoted string's escapes undone."""
    if name.startswith('"'):
        return re.sub(r'\\(.)', r'\1', name[1:-1])
    return name


def quoted(name):
    return '"' + utf7(name).replace("\\", "\\\\").replace('"', '\\"') + '"'


def fill(port, user, password, *named):
    folders = list(named) or FOLDERS
    client = connect(port, user, password)
    for folder in folders:
        status, answer = client.create(quoted(folder))
        assert status == "OK", (folder, answer)
        client.subscribe(quoted(folder))
    client.unsubscribe(quoted(folders[-1] if named else "Work"))
    base = time.mktime((2025, 3, 1, 12, 0, 0, 0, 0, 0))
    number = 0
    for folder in ["INBOX"] + folders:
        for index in range(12):
            number += 1
            lines = [f"From: sender{number}@example.net", f"To: {user}", f"Subject: message {number} in {folder}",
                     f"Message-ID: <m{number}@example.net>", "", f"Body of message {number}."]
            if index == 3:
                lines += ["From the start of a line, as mbox writers quote it.", ">From quoted already."]
            if index == 5:
                lines += ["x" * 200] * 50
            ending = "\n" if index % 2 else "\r\n"
            content = (ending.join(lines) + ending).encode()
            flags = []
            if index % 3 == 0:
                flags.append("\\Seen")
            if index % 4 == 1:
                flags.append("\\Flagged")
            if index == 2:
                flags += ["\\Answered", "$Forwarded"]
            if index == 7:
                flags += ["work", "$Label1"]
            if index == 8:
                flags.append("\\Draft")
            date = imaplib.Time2Internaldate(base + number * 3607)
            status, _ = client.append(quoted(folder), "(" + " ".join(flags) + ")", date, content)
            assert status == "OK", status
        client.select(quoted(folder))
        # Gaps in the UIDs, and one message left flagged \Deleted without an expunge.
        client.uid("STORE", "2,6", "+FLAGS.SILENT", "(\\Deleted)")
        client.expunge()
        client.uid("STORE", "9", "+FLAGS.SILENT", "(\\Deleted)")
        client.close()
    client.logout()


def change(port, user, password):
    client = connect(port, user, password)
    client.select("INBOX")
    _, data = client.uid("SEARCH", "ALL")
    uids = data[0].split()
    client.uid("STORE", uids[0], "+FLAGS.SILENT", "(\\Flagged $Moved)")
    client.uid("STORE", uids[1], "+FLAGS.SILENT", "(\\Draft)")
    client.uid("STORE", uids[2], "+FLAGS.SILENT", "(\\Deleted)")
    client.expunge()
    client.close()
    client.select("Archive")
    _, data = client.uid("SEARCH", "ALL")
    client.uid("STORE", data[0].split()[-1], "+FLAGS.SILENT", "($Label5)")
    client.close()
    client.logout()


def snapshot(port, user, password):
    client = connect(port, user, password)
    _, listing = client.list()
    names = []
    for line in listing:
        match = re.match(rb'\((.*?)\) (?:"(.)"|NIL) (.*)', line)
        # A parent that is no mailbox (Dovecot lists `a` of `a/b` so) holds nothing to compare.
        if b"\\noselect" in match.group(1).lower() or b"\\nonexistent" in match.group(1).lower():
            continue
        names.append(unquoted(match.group(3).decode()))
    _, subscribed_lines = client.lsub()
    subscribed = set()
    for line in subscribed_lines:
        subscribed.add(unquoted(re.match(rb'\((.*?)\) (?:"(.)"|NIL) (.*)', line).group(3).decode()))
    result = {}
    for name in sorted(names):
        argument = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        answer, status = client.status(argument, "(UIDVALIDITY UIDNEXT MESSAGES)")
        assert answer == "OK", (name, answer, status)
        values = dict(re.findall(rb"(UIDVALIDITY|UIDNEXT|MESSAGES) (\d+)", status[0]))
        client.select(argument, readonly=True)
        messages = []
        if int(values[b"MESSAGES"]) > 0:
            _, data = client.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])")
            for item in data:
                if not isinstance(item, tuple):
                    continue
                head = item[0].decode()
                uid = int(re.search(r"UID (\d+)", head).group(1))
                flags = sorted(f for f in re.search(r"FLAGS \((.*?)\)", head).group(1).split() if f != "\\Recent")
                date = re.search(r'INTERNALDATE "(.*?)"', head).group(1)
                messages.append({"uid": uid, "flags": flags, "date": date, "sha256": hashlib.sha256(item[1]).hexdigest()})
        client.close()
        result[name] = {"subscribed": name in subscribed, "uidvalidity": int(values[b"UIDVALIDITY"]),
                        "uidnext": int(values[b"UIDNEXT"]), "messages": sorted(messages, key=lambda m: m["uid"])}
    client.logout()
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    command, port, user, password = sys.argv[1:5]
    {"fill": fill, "change": change, "snapshot": snapshot}[command](port, user, password, *sys.argv[5:])
