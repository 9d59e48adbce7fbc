#!/usr/bin/env python3
"""Posts bodies over the server's 1 MiB limit with Python's urllib, which
sends the whole body (with Connection: close) before reading the answer,
and counts how many tries get the 413 JSON answer rather than a reset
connection. Standard library only.

    scripts/big-body-urllib.py http://127.0.0.1:5000 [tries]
"""
import sys, urllib.error, urllib.request

url = sys.argv[1].rstrip("/") + "/predict"
tries = int(sys.argv[2]) if len(sys.argv) > 2 else 20
failed = False
for size in (3 << 20, 1_300_000, 1_500_000):
    got = 0
    for _ in range(tries):
        req = urllib.request.Request(url, b"1," * (size // 2), {"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(req, timeout=10)
        except urllib.error.HTTPError as e:
            got += e.code == 413 and b'"error"' in e.read()
        except OSError:
            pass  # connection reset or broken pipe: what the drain prevents
    print(f"{size} bytes: {got}/{tries} answered 413 with a JSON error")
    failed |= got != tries
sys.exit(1 if failed else 0)
