#!/usr/bin/env python3
"""A client like the original ones: posts MNIST test images to a running
server in the original body {"image": [[...28 ints...] x 28]} and checks the
answers. Standard library only.

    scripts/smoke_client.py --url http://127.0.0.1:5000 --n 100
        posts the first N test images, prints the accuracy, then reads back
        every stored id and checks its prediction and that its PNG holds
        exactly the pixels sent.
    scripts/smoke_client.py --url ... --seconds 60
        keeps posting for that long (bounded), counting answers by status:
        for outage tests (stop the database meanwhile).
"""
import argparse, gzip, json, os, struct, sys, time, urllib.error, urllib.request, zlib


def read_idx(path, offset):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            opener = gzip.open if p.endswith(".gz") else open
            with opener(p, "rb") as f:
                return f.read()[offset:]
    sys.exit(f"missing {path}(.gz): run make data")


def png_pixels(data):
    """Decodes an 8-bit grayscale, non-interlaced PNG (what the server writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert (depth, color) == (8, 0), "want 8-bit grayscale"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, out, prev = zlib.decompress(idat), [], [0] * width
    for y in range(len(raw) // (width + 1)):
        f, line = raw[y * (width + 1)], list(raw[y * (width + 1) + 1:(y + 1) * (width + 1)])
        for x in range(width):
            a = line[x - 1] if x else 0
            b, c = prev[x], (prev[x - 1] if x else 0)
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + b) & 255
            elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += line
        prev = line
    return out


def call(url, body=None, timeout=15):
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"} if body else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, OSError) as e:
        return 0, str(e).encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:5000")
    ap.add_argument("--data", default=os.environ.get("MNIST_DIR", "data/mnist"))
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=0)
    a = ap.parse_args()
    pix = read_idx(os.path.join(a.data, "t10k-images-idx3-ubyte"), 16)
    labels = read_idx(os.path.join(a.data, "t10k-labels-idx1-ubyte"), 8)
    image = lambda i: [list(pix[i * 784 + r * 28:i * 784 + r * 28 + 28]) for r in range(28)]

    if a.seconds:
        counts, end, i, slowest = {}, time.time() + a.seconds, 0, 0.0
        while time.time() < end:
            t = time.time()
            status, _ = call(a.url + "/predict", json.dumps({"image": image(i % 10000)}).encode())
            slowest = max(slowest, time.time() - t)
            counts[status] = counts.get(status, 0) + 1
            i += 1
            time.sleep(0.05)
        print(json.dumps({"answers_by_status": counts, "slowest_seconds": round(slowest, 2)}))
        return

    right, sent = 0, []
    for i in range(a.n):
        status, body = call(a.url + "/predict", json.dumps({"image": image(i)}).encode())
        if status != 200:
            sys.exit(f"image {i}: status {status}: {body.decode()}")
        ans = json.loads(body)
        right += ans["prediction"] == labels[i]
        sent.append((i, ans))
    print(f"{right}/{a.n} right ({right / a.n:.1%})")
    for i, ans in sent:
        status, body = call(f"{a.url}/predictions/{ans['id']}")
        got = json.loads(body)
        if status != 200 or got["prediction"] != ans["prediction"]:
            sys.exit(f"id {ans['id']}: read back {status} {got}")
        status, png = call(f"{a.url}/predictions/{ans['id']}/image.png")
        if status != 200 or png_pixels(png) != [v for row in image(i) for v in row]:
            sys.exit(f"id {ans['id']}: stored image differs from the one sent")
    print(f"read back {len(sent)} ids: same predictions, PNGs hold exactly the pixels sent")


if __name__ == "__main__":
    main()
