#!/usr/bin/env python3
"""PyTorch 2.x beside the app on the 16-core machine: one training step of
the same convnet (conv 3x3x32, pool, conv 3x3x64, pool, dropout 0.5,
dense 10; Adam; batch 128) at several thread counts, and inference at
batch 1 and 64 on one thread. Prints Go-benchmark-style lines.
usage: torch_step.py MNIST_DIR SECONDS ROUNDS THREADS...
"""
import gzip, os, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 32, 3), nn.Conv2d(32, 64, 3)
        self.fc, self.drop = nn.Linear(1600, 10), nn.Dropout(0.5)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.fc(self.drop(torch.flatten(x, 1)))


def images(d):
    with gzip.open(os.path.join(d, "t10k-images-idx3-ubyte.gz"), "rb") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16)
    with gzip.open(os.path.join(d, "t10k-labels-idx1-ubyte.gz"), "rb") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return (torch.from_numpy(x.reshape(-1, 1, 28, 28).astype(np.float32) / 255),
            torch.from_numpy(y.astype(np.int64)))


def timed(fn, seconds):
    """Runs fn repeatedly for about seconds; returns (calls, seconds per call)."""
    for _ in range(10):
        fn()
    n, t0 = 0, time.perf_counter()
    while True:
        for _ in range(5):
            fn()
        n += 5
        el = time.perf_counter() - t0
        if el >= seconds:
            return n, el / n


def main():
    d, seconds, rounds = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    threads = [int(t) for t in sys.argv[4:]]
    print(f"# torch {torch.__version__}, {torch.backends.mkldnn.is_available() and 'oneDNN' or 'no oneDNN'}, "
          f"{torch.get_num_threads()} threads by default", flush=True)
    torch.manual_seed(1)
    x, y = images(d)
    xb, yb = x[:128].contiguous(), y[:128].contiguous()
    for r in range(rounds):
        for t in threads:
            torch.set_num_threads(t)
            m = Net()
            m.train()
            opt = torch.optim.Adam(m.parameters(), 1e-3)

            def step():
                opt.zero_grad()
                F.cross_entropy(m(xb), yb).backward()
                opt.step()

            n, per = timed(step, seconds)
            print(f"BenchmarkTorchTrainStep-{t}\t{n}\t{per * 1e9:.0f} ns/op\t{128 / per:.0f} images/s", flush=True)
        torch.set_num_threads(1)
        m = Net().eval()
        with torch.no_grad():
            for bs in (1, 64):
                xi = x[:bs].contiguous()
                n, per = timed(lambda: m(xi), seconds)
                print(f"BenchmarkTorchPredict/batch={bs}-1\t{n}\t{per * 1e9:.0f} ns/op\t{bs / per:.0f} images/s", flush=True)


if __name__ == "__main__":
    main()
