"""DKIM with dkimpy, an implementation nobody here wrote.

  dkim_checks.py submit PORT USER PASSWORD TO SUBJECT   a message as a mail client writes it, over
                                                       submission with STARTTLS and AUTH
  dkim_checks.py verify DNS_PORT FILE                  every signature of the message in FILE, keys
                                                       looked up in the DNS server on 127.0.0.1:DNS_PORT;
                                                       prints one JSON line per signature
"""
import json
import smtplib
import sys
import time
import email.utils

import dkim
import dkim.util
import dns.resolver


def submit(port, user, password, to, subject):
    # Trailing blanks, blank-only lines and empty lines at the end: what the two canonicalisations
    # treat differently, so a wrong body hash shows.
    body = "Hello Bob,\r\n\r\nline with trailing blanks   \r\n\t tab  and  spaces\r\n.leading dot\r\n   \r\n\r\n\r\n"
    message = (
        f"From: Alice <{user}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
        f"Date: {email.utils.formatdate()}\r\nMessage-ID: <{time.time_ns()}@example.org>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "X-Folded: one\r\n  two\r\n\r\n" + body)
    client = smtplib.SMTP("127.0.0.1", int(port), timeout=30)
    client.starttls()
    client.login(user, password)
    refused = client.sendmail(user, [to], message.encode())
    client.quit()
    print("sent", refused)


def verify(dns_port, path):
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = int(dns_port)
    resolver.lifetime = 5

    def lookup(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        try:
            answer = resolver.resolve(name.rstrip("."), "TXT")
        except dns.resolver.NXDOMAIN:
            return None
        return b"".join(b"".join(record.strings) for record in answer)

    message = open(path, "rb").read()
    headers, _ = dkim.rfc822_parse(message)
    signatures = [value for name, value in headers if name.lower() == b"dkim-signature"]
    checker = dkim.DKIM(message)
    for index, value in enumerate(signatures):
        tags = dkim.util.parse_tag_value(value)
        try:
            ok = checker.verify(idx=index, dnsfunc=lookup)
            error = ""
        except dkim.DKIMException as failure:
            ok, error = False, str(failure)
        print(json.dumps({
            "d": tags.get(b"d", b"").decode(), "s": tags.get(b"s", b"").decode(), "a": tags.get(b"a", b"").decode(),
            "h": tags.get(b"h", b"").decode(), "x": tags.get(b"x", b"").decode(), "ok": bool(ok), "error": error,
        }))


if __name__ == "__main__":
    if sys.argv[1] == "submit":
        submit(*sys.argv[2:7])
    elif sys.argv[1] == "verify":
        verify(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
