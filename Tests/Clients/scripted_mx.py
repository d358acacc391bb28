#!/usr/bin/env python3
"""A remote MX on loopback with scripted answers, built on aiosmtpd (a server nobody here wrote):
  RCPT tempfail@... -> 451 4.3.0 the first time, 250 afterwards
  RCPT reject@...   -> 550 5.1.1
  a third RCPT in one transaction -> 452 4.5.3 (too many recipients; the rest must be retried)
  DATA with bigdata@... -> 552 5.3.4
  DATA with dropafterdot@... -> the connection is closed without a reply, the first time only
  anything else     -> 250
Each accepted message is appended to MAILDIR/<n>.eml with its envelope in X-Envelope-* lines.
Writes the bound port to PORTFILE once listening; runs until killed (at most 300 s).

usage: scripted_mx.py PORTFILE MAILDIR
"""
import asyncio
import os
import sys

from aiosmtpd.smtp import SMTP

portfile, maildir = sys.argv[1], sys.argv[2]
os.makedirs(maildir, exist_ok=True)
seen_tempfail = set()
dropped = set()


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if local == "tempfail" and address not in seen_tempfail:
            seen_tempfail.add(address)
            return "451 4.3.0 try again later"
        if local == "reject":
            return "550 5.1.1 no such user here"
        if len(envelope.rcpt_tos) >= 2:
            return "452 4.5.3 too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        locals_ = [address.split("@")[0].lower() for address in envelope.rcpt_tos]
        if "bigdata" in locals_:
            return "552 5.3.4 message too big for this mailbox"
        count = len(os.listdir(maildir))
        with open(os.path.join(maildir, f"{count + 1}.eml"), "wb") as out:
            out.write(f"X-Envelope-From: {envelope.mail_from}\r\n".encode())
            out.write(f"X-Envelope-To: {','.join(envelope.rcpt_tos)}\r\n".encode())
            out.write(envelope.original_content or envelope.content)
        if "dropafterdot" in locals_ and "dropafterdot" not in dropped:
            # Stored, but the reply never comes: the client must retry (a duplicate, RFC 5321 §3.8).
            dropped.add("dropafterdot")
            server.transport.close()
            return "421 4.4.2 never sent"
        return "250 2.0.0 accepted"


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(Handler(), decode_data=False, hostname="scripted.test"), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with open(portfile + ".tmp", "w") as out:
        out.write(str(port))
    os.rename(portfile + ".tmp", portfile)
    await asyncio.sleep(300)


asyncio.run(main())
