"""Inbound mail authentication at Estafeta's MX, against implementations nobody here wrote.

  mail_auth_checks.py prepare DIR
      makes DKIM keys (RSA with openssl, Ed25519 with PyNaCl) in DIR and prints the dnsmasq arguments
      that publish them with the SPF and DMARC records of the cases, one per line
  mail_auth_checks.py run DIR SMTP_PORT IMAPS_PORT DNS_PORT
      sends each case to the MX from 127.0.0.1 (signed by dkimpy where the case says so), works out
      what authheaders (with pyspf and dkimpy) says of the same message through the same DNS server,
      and compares that with the Authentication-Results field Estafeta wrote, read back over IMAP
      from INBOX or Junk; refused cases must get the SMTP reply they should

Domains are under .example (libunbound keeps .test to itself, RFC 6761), except those whose
organizational domain matters, which are under .com: the Public Suffix List's default rule makes
goodsender.com the organizational domain of sub.goodsender.com, and authheaders' copy of the list
has no default rule for a name under .example. The DNS server answers for both and nothing else.
"""
import base64
import email
import json
import os
import smtplib
import ssl
import subprocess
import sys
import time
import imaplib

import dkim
import dns.resolver
import nacl.signing

AUTHSERV = "mx.dest.example"
RECIPIENT = "bob@dest.example"
PASSWORD = "correct horse battery"

SPF_RECORDS = {
    "spf-pass.example": ["v=spf1 ip4:127.0.0.0/8 -all"],
    "spf-fail.example": ["v=spf1 ip4:192.0.2.1 -all"],
    "spf-soft.example": ["v=spf1 ~all"],
    "spf-neutral.example": ["v=spf1 ?all"],
    "spf-include.example": ["v=spf1 include:spf-pass.example -all"],
    "spf-a.example": ["v=spf1 a -all"],
    "spf-mx.example": ["v=spf1 mx:spf-mx.example/24 -all"],
    "spf-redirect.example": ["v=spf1 redirect=spf-pass.example"],
    "spf-loop.example": ["v=spf1 include:spf-loop.example -all"],
    "spf-void.example": ["v=spf1 a:nx1.spf-void.example a:nx2.spf-void.example a:nx3.spf-void.example -all"],
    "spf-two.example": ["v=spf1 -all", "v=spf1 +all"],
    "spf-macro.example": ["v=spf1 exists:%{i}.allow.%{d} -all"],
    "spf-syntax.example": ["v=spf1 frobnicate:x -all"],
    "spf-v6.example": ["v=spf1 ip6:2001:db8::/32 -all"],
    # Eleven includes deep: past the 10-lookup limit.
    **{f"spf-deep{n}.example": [f"v=spf1 include:spf-deep{n + 1}.example -all"] for n in range(11)},
    "spf-deep11.example": ["v=spf1 +all"],
    "goodsender.com": ["v=spf1 ip4:127.0.0.1 -all"],
    "rejectsender.com": ["v=spf1 ip4:192.0.2.1 -all"],
    "quarsender.com": ["v=spf1 -all"],
    "strictsender.com": ["v=spf1 ip4:127.0.0.1 -all"],
}
DMARC_RECORDS = {
    "goodsender.com": "v=DMARC1; p=reject; sp=quarantine",
    "rejectsender.com": "v=DMARC1; p=reject",
    "quarsender.com": "v=DMARC1; p=quarantine",
    "strictsender.com": "v=DMARC1; p=reject; adkim=s; aspf=s",
    "nonesender.com": "v=DMARC1; p=none",
}


def keys(directory):
    rsa = os.path.join(directory, "rsa.pem")
    if not os.path.exists(rsa):
        subprocess.run(["openssl", "genrsa", "-traditional", "-out", rsa, "2048"], check=True, capture_output=True)
        seed = nacl.signing.SigningKey.generate()
        with open(os.path.join(directory, "ed25519.key"), "w") as f:
            f.write(base64.b64encode(bytes(seed)).decode())
    der = subprocess.run(["openssl", "rsa", "-in", rsa, "-pubout", "-outform", "DER"], check=True, capture_output=True).stdout
    seed = base64.b64decode(open(os.path.join(directory, "ed25519.key")).read())
    ed_public = bytes(nacl.signing.SigningKey(seed).verify_key)
    return {
        "rsa": (open(rsa, "rb").read(), "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()),
        "ed": (base64.b64encode(seed), "v=DKIM1; k=ed25519; p=" + base64.b64encode(ed_public).decode()),
    }


def txt(name, value):
    # dnsmasq splits a TXT value at commas into character-strings of at most 255 octets.
    parts = [value[i:i + 250] for i in range(0, len(value), 250)]
    return f"--txt-record={name}," + ",".join(parts)


def prepare(directory):
    published = keys(directory)
    # (The test's dnsmasq answers for .example only, NXDOMAIN for names not listed here.)
    arguments = ["--server=/servfail.example/127.0.0.1#1", "--local=/com/"]
    for domain, records in SPF_RECORDS.items():
        for record in records:
            arguments.append(txt(domain, record))
    for domain, record in DMARC_RECORDS.items():
        arguments.append(txt("_dmarc." + domain, record))
    for domain in ["goodsender.com", "strictsender.com", "othersender.com"]:
        arguments.append(txt(f"rsa._domainkey.{domain}", published["rsa"][1]))
        arguments.append(txt(f"ed._domainkey.{domain}", published["ed"][1]))
    arguments.append(txt("revoked._domainkey.goodsender.com", "v=DKIM1; k=rsa; p="))
    arguments.append(txt("garbage._domainkey.goodsender.com", "v=DKIM1; k=rsa; p=!!!not base64!!!"))
    arguments += [
        "--host-record=spf-a.example,127.0.0.1",
        "--mx-host=spf-mx.example,mx.spf-mx.example,10",
        "--host-record=mx.spf-mx.example,127.0.0.9",
        "--host-record=127.0.0.1.allow.spf-macro.example,127.0.0.2",
    ]
    print("\n".join(arguments))


class Case:
    def __init__(self, name, mail_from, author, sign=None, expect=None, extra_headers="", body=None, reply=250):
        self.name = name
        self.mail_from = mail_from
        self.author = author
        # (domain, selector, key, canonicalization, options) for each signature, in the order added.
        self.sign = sign or []
        self.expect = expect or {}
        self.extra_headers = extra_headers
        self.body = body or "Hello,\r\n\r\nline with trailing blanks   \r\n\ttab  and spaces\r\n\r\n\r\n"
        self.reply = reply


def cases():
    rr, ss, sr, rs = (b"relaxed", b"relaxed"), (b"simple", b"simple"), (b"simple", b"relaxed"), (b"relaxed", b"simple")
    listed = [
        Case("legit", "alice@goodsender.com", "alice@goodsender.com", [("goodsender.com", "rsa", "rsa", rr, {})],
             {"spf": "pass", "dkim": "pass", "dmarc": "pass", "folder": "INBOX"}),
    ]
    for label, canon in [("ss", ss), ("sr", sr), ("rs", rs), ("rr", rr)]:
        for key in ["rsa", "ed"]:
            listed.append(Case(f"dkim-{key}-{label}", "alice@goodsender.com", "alice@goodsender.com",
                               [("goodsender.com", key, key, canon, {})], {"dkim": "pass", "dmarc": "pass"}))
    listed += [
        # A relay may add headers it did not sign: still a pass (they are not in h=).
        Case("two-signatures", "alice@goodsender.com", "alice@goodsender.com",
             [("goodsender.com", "rsa", "rsa", rr, {}), ("goodsender.com", "ed", "ed", ss, {})], {"dkim": "pass", "dmarc": "pass"}),
        Case("body-length", "alice@goodsender.com", "alice@goodsender.com",
             [("goodsender.com", "rsa", "rsa", rr, {"length": True})], {"dkim": "pass"}),
        Case("forged-reject", "ceo@spoofersender.com", "ceo@rejectsender.com", [], {"dmarc": "fail"}, reply=550),
        Case("forged-reject-spf-fail", "ceo@rejectsender.com", "ceo@rejectsender.com", [], {"spf": "fail", "dmarc": "fail"}, reply=550),
        Case("quarantine", "x@quarsender.com", "x@quarsender.com", [], {"spf": "fail", "dmarc": "fail", "folder": "Junk"}),
        Case("subdomain-quarantine", "x@spoofersender.com", "x@sub.goodsender.com", [], {"dmarc": "fail", "folder": "Junk"}),
        Case("relaxed-alignment", "bounce@mail.goodsender.com", "alice@sub.goodsender.com",
             [("goodsender.com", "rsa", "rsa", rr, {})], {"dkim": "pass", "dmarc": "pass", "folder": "INBOX"}),
        Case("strict-alignment", "x@spoofersender.com", "alice@mail.strictsender.com",
             [("strictsender.com", "rsa", "rsa", rr, {})], {"dkim": "pass", "dmarc": "fail"}, reply=550),
        Case("other-domain-signature", "x@spoofersender.com", "alice@goodsender.com",
             [("othersender.com", "rsa", "rsa", rr, {})], {"dkim": "pass", "dmarc": "fail"}, reply=550),
        Case("p-none", "x@spoofersender.com", "alice@nonesender.com", [], {"dmarc": "fail", "folder": "INBOX"}),
        Case("revoked-key", "x@spoofersender.com", "alice@nonesender.com", [("goodsender.com", "revoked", "rsa", rr, {})],
             {"dkim": "permerror"}),
        Case("garbage-key", "x@spoofersender.com", "alice@nonesender.com", [("goodsender.com", "garbage", "rsa", rr, {})],
             {"dkim": "permerror"}),
        Case("no-key", "x@spoofersender.com", "alice@nonesender.com", [("goodsender.com", "missing", "rsa", rr, {})],
             {"dkim": "permerror"}),
        Case("tampered-body", "x@spoofersender.com", "alice@nonesender.com", [("goodsender.com", "rsa", "rsa", rr, {"tamper": True})],
             {"dkim": "fail"}),
        Case("forged-results", "alice@goodsender.com", "alice@goodsender.com", [("goodsender.com", "rsa", "rsa", rr, {})],
             {"dkim": "pass"},
             extra_headers=f"Authentication-Results: {AUTHSERV}; dkim=pass; spf=pass; dmarc=pass\r\n"
                           "Authentication-Results: other.host.example; spf=fail\r\n"),
        Case("many-signatures", "x@spoofersender.com", "alice@nonesender.com",
             [("goodsender.com", "rsa", "rsa", rr, {})] * 50, {}),
        Case("malformed-signature", "x@spoofersender.com", "alice@nonesender.com", [], {"dkim": "permerror"},
             extra_headers="DKIM-Signature: v=1; a=rsa-sha256; d=goodsender.com; s=rsa; h=from; bh=%%%; b=###\r\n"),
        Case("unknown-algorithm", "x@spoofersender.com", "alice@nonesender.com", [], {"dkim": "permerror"},
             extra_headers="DKIM-Signature: v=1; a=rsa-sha1; d=goodsender.com; s=rsa; h=from; bh=AAAA; b=AAAA\r\n"),
    ]
    for domain in SPF_RECORDS:
        if domain.startswith("spf-") and not domain.startswith("spf-deep") or domain == "spf-deep0.example":
            listed.append(Case(f"{domain}", f"user@{domain}", f"user@{domain}", [], {}))
    listed.append(Case("spf-none", "user@nothingsender.com", "user@nothingsender.com", [], {"spf": "none"}))
    listed.append(Case("spf-temperror", "user@servfail.example", "user@servfail.example", [], {"spf": "temperror"}))
    listed.append(Case("null-sender", "", "mailer-daemon@nothingsender.com", [], {"spf": "none"}))
    return listed


def message_for(case, published):
    headers = (f"From: <{case.author}>\r\nTo: <{RECIPIENT}>\r\nSubject: case {case.name}\r\n"
               f"Date: {email.utils.formatdate()}\r\nMessage-ID: <{case.name}.{time.time_ns()}@sender.example>\r\n"
               "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n")
    message = (headers + "\r\n" + case.body).encode()
    signatures = b""
    for domain, selector, key, canon, options in case.sign:
        private = published[key][0]
        signed = dkim.sign(message, selector.encode(), domain.encode(), private, canonicalize=canon,
                           include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
                           length=options.get("length", False),
                           signature_algorithm=b"ed25519-sha256" if key == "ed" else b"rsa-sha256")
        signatures = signed + signatures
    body = message
    if any(options.get("tamper") for *_, options in case.sign):
        body = message.replace(b"Hello,", b"Hellp,")
    if any(options.get("length") for *_, options in case.sign):
        body = body + b"appended after signing\r\n"
    return case.extra_headers.encode() + signatures + body


def expected(case, message, dns_port):
    import authheaders
    import spf
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = int(dns_port)
    resolver.lifetime = 5
    dns.resolver.default_resolver = resolver  # pyspf asks through dnspython's default resolver

    def lookup(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        try:
            answer = resolver.resolve(name.rstrip("."), "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        text = b"".join(b"".join(record.strings) for record in answer)
        # dkimpy takes bytes, authheaders' DMARC look-up text.
        return text.decode() if name.startswith("_dmarc.") else text

    spf_result = spf.check2(i="127.0.0.1", s=case.mail_from or "", h="client.sender.example")[0]
    results = {"spf": spf_result}
    try:
        header = authheaders.authenticate_message(message, AUTHSERV, spf=True, dkim=True, dmarc=True, dnsfunc=lookup,
                                                  ip="127.0.0.1", mail_from=case.mail_from, helo="client.sender.example")
        results["authheaders"] = header
    except Exception as failure:  # authheaders trips over some hostile cases; ours must still answer
        results["authheaders"] = f"error: {failure}"
    return results


def results_of(field):
    """method -> [result, ...] from one Authentication-Results field."""
    found = {}
    for part in field.split(";")[1:]:
        part = part.strip()
        if "=" in part:
            method, rest = part.split("=", 1)
            found.setdefault(method.strip(), []).append(rest.split()[0] if rest.split() else "")
    return found


def run(directory, smtp_port, imaps_port, dns_port):
    published = keys(directory)
    failures = []
    sent = []
    for case in cases():
        message = message_for(case, published)
        want = expected(case, message, dns_port)
        client = smtplib.SMTP("127.0.0.1", int(smtp_port), local_hostname="client.sender.example", timeout=60)
        client.ehlo("client.sender.example")
        code = 250
        text = ""
        try:
            client.sendmail(case.mail_from, [RECIPIENT], message)
        except smtplib.SMTPDataError as refused:
            code, text = refused.smtp_code, refused.smtp_error.decode()
        except smtplib.SMTPRecipientsRefused as refused:
            code, text = list(refused.recipients.values())[0]
        # The session stays healthy after whatever the message carried.
        if client.noop()[0] != 250:
            failures.append(f"{case.name}: session unhealthy after the message")
        client.quit()
        if code != case.reply:
            failures.append(f"{case.name}: SMTP reply {code} {text}, wanted {case.reply}")
        if code == 550 and not text.startswith("5.7.1") and case.reply == 550:
            failures.append(f"{case.name}: refusal {text} is not 5.7.1")
        sent.append((case, want, code))

    imap = imaplib.IMAP4_SSL("127.0.0.1", int(imaps_port), ssl_context=ssl._create_unverified_context(), timeout=30)
    imap.login(RECIPIENT, PASSWORD)
    # Accepted mail is filed by the delivery worker a moment later.
    accepted = sum(1 for _, _, code in sent if code == 250)
    deadline = time.time() + 60
    while time.time() < deadline:
        filed = sum(int(imap.status(folder, "(MESSAGES)")[1][0].split()[-1].strip(b")")) for folder in ["INBOX", "Junk"])
        if filed >= accepted:
            break
        time.sleep(0.2)
    stored = {}
    for folder in ["INBOX", "Junk"]:
        imap.select(folder, readonly=True)
        _, data = imap.uid("SEARCH", None, "ALL")
        for uid in data[0].split():
            _, fetched = imap.uid("FETCH", uid, "(BODY.PEEK[HEADER])")
            header = fetched[0][1].decode("utf-8", "replace")
            parsed = email.message_from_string(header)
            subject = parsed["Subject"] or ""
            stored[subject.replace("case ", "", 1)] = (folder, parsed.get_all("Authentication-Results") or [], header)
    imap.logout()

    for case, want, code in sent:
        if code != 250:
            # Refused: what authheaders says must be a DMARC fail too.
            if case.reply == 550 and "dmarc=fail" not in want["authheaders"] and case.expect.get("spf") != "fail":
                failures.append(f"{case.name}: refused, but authheaders says {want['authheaders']}")
            continue
        if case.name not in stored:
            failures.append(f"{case.name}: not delivered")
            continue
        folder, fields, header = stored[case.name]
        ours = [f for f in fields if f.strip().lower().startswith(AUTHSERV)]
        if len(ours) != 1:
            failures.append(f"{case.name}: {len(ours)} Authentication-Results fields of ours: {fields}")
            continue
        got = results_of(" ".join(ours[0].split()))
        theirs = results_of(want["authheaders"].split(":", 1)[1]) if not want["authheaders"].startswith("error") else {}
        # SPF: the same result as pyspf.
        if got.get("spf", ["?"])[0] != want["spf"]:
            failures.append(f"{case.name}: spf={got.get('spf')} but pyspf says {want['spf']}")
        # DKIM: every verdict as dkimpy's (authheaders reports the first signature's) for a signed message.
        if "dkim" in theirs and case.sign and case.name not in ("many-signatures",):
            # authheaders reports every dkimpy failure as "fail"; a key that is missing, revoked or
            # unreadable is "permerror" here, as RFC 8601 §2.7.1 words it (an error a retry will not mend).
            agreeing = {"fail": {"fail", "permerror"}}.get(theirs["dkim"][0], {theirs["dkim"][0]})
            if not agreeing.intersection(got.get("dkim", [])):
                failures.append(f"{case.name}: dkim={got.get('dkim')} but dkimpy says {theirs['dkim']}")
        # DMARC: the same result as authheaders.
        if "dmarc" in theirs and got.get("dmarc", ["?"])[0] != theirs["dmarc"][0]:
            failures.append(f"{case.name}: dmarc={got.get('dmarc')} but authheaders says {theirs['dmarc']}")
        for method, result in case.expect.items():
            if method == "folder":
                if folder != result:
                    failures.append(f"{case.name}: in {folder}, wanted {result}")
            elif result not in got.get(method, []):
                failures.append(f"{case.name}: {method}={got.get(method)}, wanted {result}: {ours[0]}")
        if case.name == "forged-results":
            if "other.host.example" not in header or header.count(AUTHSERV + ";") != 1:
                failures.append(f"forged-results: forged field kept or other removed: {fields}")
        if case.name == "many-signatures" and len(got.get("dkim", [])) > 10:
            failures.append(f"many-signatures: {len(got['dkim'])} signatures checked")
        print(f"{case.name}: {folder} {' '.join(ours[0].split())}")
    for failure in failures:
        print("FAIL", failure)
    print(f"{len(sent)} cases, {len(failures)} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    if sys.argv[1] == "prepare":
        prepare(sys.argv[2])
    elif sys.argv[1] == "run":
        run(*sys.argv[2:6])
    else:
        sys.exit(__doc__)
