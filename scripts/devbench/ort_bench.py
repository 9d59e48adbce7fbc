#!/usr/bin/env python3
"""ONNX Runtime (python) on one thread with the app's exported model: checks
its probabilities against the app's (probs.f32, the first 100 test images,
when present) and times batch 1 and 64. Prints Go-benchmark-style lines.
usage: ort_bench.py MODEL.onnx MNIST_DIR PROBS.f32 SECONDS ROUNDS
"""
import gzip, os, sys, time

import numpy as np
import onnxruntime as ort


def main():
    model, d, probs, seconds, rounds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
    with gzip.open(os.path.join(d, "t10k-images-idx3-ubyte.gz"), "rb") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    print(f"# onnxruntime {ort.__version__}", flush=True)
    if os.path.exists(probs):
        want = np.fromfile(probs, dtype="<f4").reshape(-1, 10)
        got = s.run(["probabilities"], {"image": x[:len(want)]})[0]
        diff = float(np.abs(got - want).max())
        same = int((got.argmax(1) == want.argmax(1)).sum())
        print(f"# probabilities of {len(want)} images: largest difference from the app {diff:.3g}, same digit for {same}", flush=True)
    for _ in range(rounds):
        for bs in (1, 64):
            feed = {"image": np.ascontiguousarray(x[:bs])}
            for _ in range(200):
                s.run(None, feed)
            n, t0 = 0, time.perf_counter()
            while True:
                for _ in range(50):
                    s.run(None, feed)
                n += 50
                el = time.perf_counter() - t0
                if el >= seconds:
                    break
            per = el / n
            print(f"BenchmarkORTPythonPredict/batch={bs}-1\t{n}\t{per * 1e9:.0f} ns/op\t{bs / per:.0f} images/s", flush=True)


if __name__ == "__main__":
    main()
