#!/usr/bin/env bash
# Decoding cost under crafted images: starts `app serve` on a fresh model and
# database, sends 16 copies each of a 4096x4096 16-bit RGBA PNG, a
# progressive 4096x4096 JPEG and a progressive 1500x1500 JPEG of a "1", all
# at once, while an ordinary client keeps predicting; prints the statuses,
# the ordinary client's latencies and the server's peak RSS (VmHWM).
#
#   scripts/decode-bomb.sh [APP_BINARY] [PORT]     # needs cjpeg (libjpeg-turbo-progs)
set -euo pipefail
app=$(realpath "${1:-./app}")
port=${2:-18500}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
pid=

"$app" train --epochs 1 --limit 2000 --models "$work/models" >/dev/null 2>&1
python3 -c 'import sys; sys.stdout.buffer.write(b"P6 4096 4096 255\n" + b"\x80\x90\xa0" * (4096 * 4096))' |
  cjpeg -progressive -quality 90 >"$work/flat-4096.jpg"
python3 -c '
import sys
s = 1500
img = bytearray(b"\xf0" * (s * s * 3))
for y in range(s // 8, s * 7 // 8):
    img[(y * s + s * 2 // 5) * 3:(y * s + s * 3 // 5) * 3] = b"\x14" * ((s * 3 // 5 - s * 2 // 5) * 3)
sys.stdout.buffer.write(b"P6 %d %d 255\n" % (s, s) + bytes(img))' | cjpeg -progressive -quality 90 >"$work/one-1500.jpg"

"$app" serve --addr "127.0.0.1:$port" --models "$work/models" --db "sqlite:$work/p.db" --watch 0 2>"$work/log" &
pid=$!
for _ in $(seq 100); do
  curl -fs "127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
echo "idle server: $(grep VmRSS /proc/$pid/status)"
go run ./scripts/decodebomb -url "http://127.0.0.1:$port" -n 16 -jpeg "$work/flat-4096.jpg,$work/one-1500.jpg"
grep -E 'VmHWM|VmRSS' "/proc/$pid/status"
