#!/usr/bin/env python3
"""The far side of an MTA-STS (RFC 8461) or DANE (RFC 7672) test, on loopback: a test CA, an HTTPS server for policy hosts and
an SMTP MX (aiosmtpd) with STARTTLS. Both choose their certificate by the name the client asks for (SNI):
a name listed in "verified" gets a certificate for it signed by the test CA (DIR/ca.pem, sent with it;
the server's own is DIR/good.pem); a name in "misnamed" gets one the CA signed for elsewhere.example;
any other name gets a self-signed one, which no client can verify.

DIR/peers.json, written by the test, holds
  {"verified": [names...], "policies": {"mta-sts.domain": {"status": 200, "type": "text/plain", "body": "..."}}}
The HTTPS server answers GET /.well-known/mta-sts.txt for a policy host with its entry (a "location" key
makes it a redirect; a "proxy" key passes the request on to http://127.0.0.1:<port in DIR/proxy-port>)
and 404 otherwise; each request is appended to DIR/fetches.log as "host path". A POST
(a TLS report) is kept as DIR/posts/<n>.bin with its Content-Type in <n>.type.
Each message the MX accepts is written to DIR/mail/<n>.eml after X-Envelope-To and X-TLS (yes/no) lines.
Writes {"https": port, "smtp": port} to DIR/ports.json once listening; runs until killed (at most 300 s).

usage: mta_sts_peers.py DIR
"""
import asyncio
import http.client
import http.server
import json
import os
import ssl
import subprocess
import sys
import threading

from aiosmtpd.smtp import SMTP

directory = sys.argv[1]
with open(os.path.join(directory, "peers.json")) as source:
    setup = json.load(source)
verified = set(setup["verified"])
misnamed = set(setup.get("misnamed", []))
policies = setup["policies"]
maildir = os.path.join(directory, "mail")
os.makedirs(maildir, exist_ok=True)


def openssl(*arguments):
    subprocess.run(["openssl", *arguments], check=True, capture_output=True, timeout=60)


def path(name):
    return os.path.join(directory, name)


def concatenate(target, *parts):
    with open(path(target), "w") as out:
        for name in parts:
            with open(path(name)) as part:
                out.write(part.read())


def make_certificates():
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", path("ca.key"), "-out", path("ca.pem"), "-days", "2",
            "-subj", "/CN=Estafeta test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    names = sorted(verified)
    with open(path("good.ext"), "w") as ext:
        ext.write("basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        ext.write("subjectAltName=" + ",".join("DNS:" + name for name in names) + "\n")
    openssl("req", *ec, "-keyout", path("good.key"), "-out", path("good.csr"), "-subj", "/CN=" + names[0])
    openssl("x509", "-req", "-in", path("good.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
            "-CAcreateserial", "-out", path("good.pem"), "-days", "2", "-extfile", path("good.ext"))
    # The chain sent: the server's certificate and the CA's (a DANE-TA record names the CA's).
    concatenate("good-chain.pem", "good.pem", "ca.pem")
    # Signed by the CA too, but for another name than the one asked for.
    openssl("req", *ec, "-keyout", path("misnamed.key"), "-out", path("misnamed.csr"), "-subj", "/CN=elsewhere.example")
    with open(path("misnamed.ext"), "w") as ext:
        ext.write("basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:elsewhere.example\n")
    openssl("x509", "-req", "-in", path("misnamed.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
            "-CAcreateserial", "-out", path("misnamed.pem"), "-days", "2", "-extfile", path("misnamed.ext"))
    concatenate("misnamed-chain.pem", "misnamed.pem", "ca.pem")
    openssl("req", "-x509", *ec, "-keyout", path("rogue.key"), "-out", path("rogue.pem"), "-days", "2",
            "-subj", "/CN=rogue.example", "-addext", "subjectAltName=DNS:rogue.example")


def server_context():
    good = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    good.load_cert_chain(path("good-chain.pem"), path("good.key"))
    other = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    other.load_cert_chain(path("misnamed-chain.pem"), path("misnamed.key"))
    rogue = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    rogue.load_cert_chain(path("rogue.pem"), path("rogue.key"))

    def choose(connection, server_name, _context):
        connection.context = good if server_name in verified else other if server_name in misnamed else rogue

    rogue.sni_callback = choose
    return rogue


class PolicyHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        with open(path("fetches.log"), "a") as log:
            log.write(f"{host} {self.path}\n")
        entry = policies.get(host) if self.path == "/.well-known/mta-sts.txt" else None
        if entry is None:
            self.send_error(404)
            return
        if entry.get("proxy"):
            self.forward()
            return
        body = entry.get("body", "").encode()
        self.send_response(entry.get("status", 200))
        if "location" in entry:
            self.send_header("Location", entry["location"])
        self.send_header("Content-Type", entry.get("type", "text/plain"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def forward(self):
        # An HTTPS front end as an operator puts before Estafeta's admin service: the request goes on
        # over plain HTTP to the port in DIR/proxy-port, Host and path unchanged.
        with open(path("proxy-port")) as source:
            port = int(source.read().strip())
        upstream = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        upstream.request("GET", self.path, headers={"Host": self.headers.get("Host") or ""})
        answer = upstream.getresponse()
        body = answer.read()
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.getheader("Content-Type") or "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        upstream.close()

    def do_POST(self):
        # A TLS report posted (RFC 8460 §5.4): kept as DIR/posts/<n>.bin, its Content-Type in <n>.type.
        posts = path("posts")
        os.makedirs(posts, exist_ok=True)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        count = len([name for name in os.listdir(posts) if name.endswith(".bin")]) + 1
        with open(os.path.join(posts, f"{count}.type"), "w") as out:
            out.write(self.headers.get("Content-Type") or "")
        with open(os.path.join(posts, f"{count}.bin.tmp"), "wb") as out:
            out.write(body)
        os.rename(os.path.join(posts, f"{count}.bin.tmp"), os.path.join(posts, f"{count}.bin"))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *arguments):
        pass


class Handler:
    async def handle_DATA(self, server, session, envelope):
        count = len(os.listdir(maildir))
        with open(os.path.join(maildir, f"{count + 1}.eml"), "wb") as out:
            out.write(f"X-Envelope-To: {','.join(envelope.rcpt_tos)}\r\n".encode())
            out.write(f"X-TLS: {'yes' if session.ssl is not None else 'no'}\r\n".encode())
            out.write(envelope.original_content or envelope.content)
        return "250 2.0.0 accepted"


async def main():
    make_certificates()
    context = server_context()
    https = http.server.ThreadingHTTPServer(("127.0.0.1", 0), PolicyHandler)
    https.socket = context.wrap_socket(https.socket, server_side=True)
    threading.Thread(target=https.serve_forever, daemon=True).start()
    loop = asyncio.get_running_loop()
    smtp = await loop.create_server(
        lambda: SMTP(Handler(), decode_data=False, hostname="peer.example", tls_context=context), "127.0.0.1", 0)
    ports = {"https": https.server_address[1], "smtp": smtp.sockets[0].getsockname()[1]}
    with open(path("ports.json.tmp"), "w") as out:
        json.dump(ports, out)
    os.rename(path("ports.json.tmp"), path("ports.json"))
    await asyncio.sleep(300)


asyncio.run(main())
