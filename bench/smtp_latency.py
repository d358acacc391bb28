#!/usr/bin/env python3
"""Latency of the final 250 (end of DATA to the reply) under concurrent SMTP sessions, against any
server: THREADS sessions, each sending messages over one connection until MSGS are sent in all or
SECS have passed. Loopback only. Last line: RESULT smtp_latency ... p50_ms=X p99_ms=Y msgs_per_sec=Z
"""
import argparse
import smtplib
import threading
import time

parser = argparse.ArgumentParser()
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--rcpt", required=True)
parser.add_argument("--sender", default="bench@bench.test")
parser.add_argument("--threads", type=int, default=20)
parser.add_argument("--msgs", type=int, default=2000)
parser.add_argument("--size", type=int, default=4096)
parser.add_argument("--secs", type=float, default=60)
args = parser.parse_args()
if args.host not in ("127.0.0.1", "localhost", "::1"):
    raise SystemExit("refusing a non-loopback host")

line = b"x" * 76 + b"\r\n"
body = b"Subject: latency\r\n\r\n" + line * max(1, args.size // len(line))
lock = threading.Lock()
left = [args.msgs]
latencies = []
errors = []
deadline = time.monotonic() + args.secs


def take():
    with lock:
        if left[0] <= 0 or time.monotonic() > deadline:
            return False
        left[0] -= 1
        return True


def session():
    try:
        client = smtplib.SMTP(args.host, args.port, timeout=30)
        client.ehlo("latency.test")
        while take():
            client.mail(args.sender)
            client.rcpt(args.rcpt)
            # smtplib sends DATA, waits for 354, then sends the content and the final dot.
            client.putcmd("data")
            code, _ = client.getreply()
            if code != 354:
                raise RuntimeError(f"DATA answered {code}")
            started = time.monotonic()
            client.send(body + b".\r\n")
            code, _ = client.getreply()
            elapsed = time.monotonic() - started
            if code != 250:
                raise RuntimeError(f"end of data answered {code}")
            with lock:
                latencies.append(elapsed)
        client.quit()
    except Exception as error:  # noqa: BLE001 - reported in the result line
        with lock:
            errors.append(repr(error))


started = time.monotonic()
threads = [threading.Thread(target=session) for _ in range(args.threads)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join(args.secs + 30)
secs = time.monotonic() - started
latencies.sort()


def percentile(p):
    return 1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else float("nan")


print(f"RESULT smtp_latency port={args.port} threads={args.threads} msgs={len(latencies)} errors={len(errors)} "
      f"p50_ms={percentile(0.50):.2f} p99_ms={percentile(0.99):.2f} msgs_per_sec={len(latencies) / secs:.1f}")
if errors:
    print("first error:", errors[0])
raise SystemExit(1 if errors or not latencies else 0)
