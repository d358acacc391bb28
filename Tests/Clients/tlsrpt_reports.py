#!/usr/bin/env python3
"""The TLS reports (RFC 8460) a test peer received, as JSON lines on standard output: for each report mail in
MAILDIR (one with a TLS-Report-Domain field) its recipient, the fields RFC 8460 §5.3 asks for and the report
inside its application/tlsrpt+gzip attachment; for each report posted to the HTTPS peer (POSTDIR/<n>.bin) its
Content-Type and the report. Parsed with the standard library's email and gzip modules.

usage: tlsrpt_reports.py MAILDIR POSTDIR
"""
import email
import email.policy
import gzip
import json
import os
import sys

maildir, postdir = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(maildir)) if os.path.isdir(maildir) else []:
    with open(os.path.join(maildir, name), "rb") as source:
        message = email.message_from_binary_file(source, policy=email.policy.compat32)
    if message["TLS-Report-Domain"] is None:
        continue
    attachments = [part for part in message.walk() if part.get_content_type() == "application/tlsrpt+gzip"]
    print(json.dumps({
        "via": "mail",
        "to": message["X-Envelope-To"],
        "domain": message["TLS-Report-Domain"],
        "submitter": message["TLS-Report-Submitter"],
        "content-type": message.get_content_type(),
        "report-type": message.get_param("report-type"),
        "dkim": message["DKIM-Signature"] is not None,
        "filename": attachments[0].get_filename() if attachments else None,
        "report": json.loads(gzip.decompress(attachments[0].get_payload(decode=True))) if attachments else None,
    }))
for name in sorted(os.listdir(postdir)) if os.path.isdir(postdir) else []:
    if not name.endswith(".bin"):
        continue
    with open(os.path.join(postdir, name), "rb") as source:
        body = source.read()
    with open(os.path.join(postdir, name[:-4] + ".type")) as source:
        content_type = source.read()
    print(json.dumps({"via": "https", "content-type": content_type, "report": json.loads(gzip.decompress(body))}))
