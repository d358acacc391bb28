#!/usr/bin/env python3
"""A remote MX on loopback with scripted answers, built on aiosmtpd (a server nobody here wrote):
  RCPT tempfail@... -> 451 4.3.0 the first time, 250 afterwards
  RCPT reject@...   -> 550 5.1.1
  a third RCPT in one transaction -> 452 4.5.3 (too many recipients; the rest must be retried)
  DATA with bigdata@... -> 552 5.3.4
  DATA with dropafterdot@... -> the connection is closed without a reply, the first time only
  DATA with killrelay@...   -> stored, then the relay (its pid in MAILDIR/../relay.pid) is killed with
                               SIGKILL before the reply is sent, the first time only
  anything else     -> 250
Each accepted message is appended to MAILDIR/<n>.eml with its envelope in X-Envelope-* lines.

More listeners, each misbehaving in one way or wanting a login:
  greet421  answers every connection with 421 and closes
  silent    accepts and never says anything
  slow      sends its greeting one byte every 0.5 s
  badtls    offers STARTTLS, answers 220, then sends garbage instead of a TLS handshake and closes
  auth      a smarthost: STARTTLS required, then AUTH (user relay@smarthost.test, password
            "smarthost secret"); stored messages carry X-Auth-Login
Writes {"scripted": port, "greet421": port, ...} as JSON to PORTFILE once listening; runs until
killed (at most 300 s).

usage: scripted_mx.py PORTFILE MAILDIR
"""
import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

portfile, maildir = sys.argv[1], sys.argv[2]
# Where to listen: loopback, or an address other network namespaces reach (the separate-hosts test).
LISTEN = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
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
            if session.auth_data is not None:
                out.write(f"X-Auth-Login: {session.auth_data}\r\n".encode())
            out.write(envelope.original_content or envelope.content)
        if "killrelay" in locals_ and "killrelay" not in dropped:
            # Stored here; the client dies before it can learn so, let alone commit the outcome.
            dropped.add("killrelay")
            with open(os.path.join(os.path.dirname(os.path.abspath(maildir)), "relay.pid")) as pidfile:
                os.kill(int(pidfile.read().strip()), signal.SIGKILL)
            return "250 2.0.0 accepted"
        if "dropafterdot" in locals_ and "dropafterdot" not in dropped:
            # Stored, but the reply never comes: the client must retry (a duplicate, RFC 5321 §3.8).
            dropped.add("dropafterdot")
            server.transport.close()
            return "421 4.4.2 never sent"
        return "250 2.0.0 accepted"


class BrokenTLS(SMTP):
    """Advertises STARTTLS (it has a context) but answers the handshake with garbage."""

    async def smtp_STARTTLS(self, arg):
        await self.push("220 Ready to start TLS")
        self.transport.write(b"this is not a TLS server hello\r\n" * 4)
        self.transport.close()


def authenticator(server, session, envelope, mechanism, auth_data):
    good = isinstance(auth_data, LoginPassword) and auth_data.login == b"relay@smarthost.test" \
        and auth_data.password == b"smarthost secret"
    return AuthResult(success=good, auth_data=auth_data.login.decode() if good else None)


def tls_context():
    directory = os.path.join(maildir, "..", "peer-tls")
    os.makedirs(directory, exist_ok=True)
    key, cert = os.path.join(directory, "key.pem"), os.path.join(directory, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=scripted.test"], check=True, capture_output=True, timeout=60)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def greet421(reader, writer):
    writer.write(b"421 4.3.2 too busy, come back later\r\n")
    await writer.drain()
    writer.close()


async def silent(reader, writer):
    await asyncio.sleep(60)
    writer.close()


async def slow(reader, writer):
    for byte in b"220 slow.test ESMTP\r\n":
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(0.5)
    await asyncio.sleep(30)
    writer.close()


async def main():
    loop = asyncio.get_running_loop()
    context = tls_context()
    servers = {
        "scripted": await loop.create_server(
            lambda: SMTP(Handler(), decode_data=False, hostname="scripted.test"), LISTEN, 0),
        "badtls": await loop.create_server(
            lambda: BrokenTLS(Handler(), decode_data=False, hostname="badtls.test", tls_context=context),
            LISTEN, 0),
        "auth": await loop.create_server(
            lambda: SMTP(Handler(), decode_data=False, hostname="smarthost.test", tls_context=context,
                         require_starttls=True, auth_required=True, auth_require_tls=True,
                         authenticator=authenticator), LISTEN, 0),
        "greet421": await asyncio.start_server(greet421, LISTEN, 0),
        "silent": await asyncio.start_server(silent, LISTEN, 0),
        "slow": await asyncio.start_server(slow, LISTEN, 0),
    }
    ports = {name: server.sockets[0].getsockname()[1] for name, server in servers.items()}
    with open(portfile + ".tmp", "w") as out:
        json.dump(ports, out)
    os.rename(portfile + ".tmp", portfile)
    await asyncio.sleep(300)


asyncio.run(main())
