#!/usr/bin/env python3
"""Medians of the runs in OUT, side by side. usage: summarize.py OUT"""
import os, re, statistics, sys

STEP_GFLOP = 1.8247  # the network's GEMM flops in one training step of 128 (forward and backward); the app computes 1.513 of them (cropped convolutions)
out = sys.argv[1]
line = re.compile(r"^(?:(\w+): )?(Benchmark[^\s]+?)(?:-(\d+))?\s+\d+\s+([\d.]+) ns/op(.*)$")
runs = {}  # (tag, name, procs) -> [ns]
extra = {}  # (tag, name, procs) -> [GFLOPS]
for f in sorted(os.listdir(out)):
    if not f.endswith(".txt") or f == "summary.txt":
        continue
    for l in open(os.path.join(out, f)):
        m = line.match(l.strip())
        if not m:
            continue
        tag, name, procs, ns, rest = m.group(1) or "", m.group(2), int(m.group(3) or 1), float(m.group(4)), m.group(5)
        runs.setdefault((tag, name, procs), []).append(ns)
        g = re.search(r"([\d.]+) GFLOPS", rest)
        if g:
            extra.setdefault((tag, name, procs), []).append(float(g.group(1)))


def med(tag, name, procs=1):
    v = runs.get((tag, name, procs))
    return statistics.median(v) if v else None


def fmt(v, f):
    return f % v if v is not None else "-"


rows = []
p = rows.append
p("training, batch 128, images/s (median of rounds; effective GFLOPS of the whole step: the network's 1.82 GFLOP per step / time)")
p(f"{'cores':>6} {'app new':>16} {'app 850c969':>12} {'new/old time':>13} {'PyTorch':>9} {'app/PyTorch':>12}")
for c in (1, 2, 8, 16):
    n, o, t = med("new", "BenchmarkTrainStep", c), med("old", "BenchmarkTrainStep", c), med("", "BenchmarkTorchTrainStep", c)
    ips = lambda ns: 128e9 / ns if ns else None
    p(f"{c:>6} {fmt(ips(n), '%7.0f'):>7} ({fmt(STEP_GFLOP / (n / 1e9) if n else None, '%5.1f')} GF) {fmt(ips(o), '%12.0f')} "
      f"{fmt(n / o if n and o else None, '%13.2f')} {fmt(ips(t), '%9.0f')} {fmt(t / n if n and t else None, '%12.2f')}")
p("")
p("inference, one thread: batch 1 ms per call / batch 64 images/s")
for label, tag, name in (("app new (BenchmarkPredict, GOMAXPROCS=1)", "new", "BenchmarkPredict"),
                         ("app 850c969", "old", "BenchmarkPredict"),
                         ("ONNX Runtime (python)", "", "BenchmarkORTPythonPredict"),
                         ("PyTorch", "", "BenchmarkTorchPredict")):
    b1, b64 = med(tag, name + "/batch=1"), med(tag, name + "/batch=64")
    p(f"  {label:<42} {fmt(b1 / 1e6 if b1 else None, '%8.4f')} ms   {fmt(64e9 / b64 if b64 else None, '%8.0f')} images/s")
p("")
peak = extra.get(("", "BenchmarkFMAPeak", 1))
pk = statistics.median(peak) if peak else None
p(f"one core: FMA peak {fmt(pk, '%.1f')} GFLOPS (BenchmarkFMAPeak)")
for k, v in sorted(extra.items()):
    if k[1].startswith("BenchmarkSgemm"):
        g = statistics.median(v)
        p(f"  {k[1]:<40} {g:6.1f} GFLOPS  {fmt(100 * g / pk if pk else None, '%4.0f')}% of peak")
n1 = med("new", "BenchmarkTrainStep", 1)
if n1 and pk:
    p(f"  whole training step, 1 core: {STEP_GFLOP / (n1 / 1e9):.1f} effective GFLOPS ({1.513 / (n1 / 1e9):.1f} executed), {100 * STEP_GFLOP / (n1 / 1e9) / pk:.0f}% of peak")
text = "\n".join(rows)
open(os.path.join(out, "summary.txt"), "w").write(text + "\n")
print(text)
