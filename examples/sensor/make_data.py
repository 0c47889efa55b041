#!/usr/bin/python3
"""The synthetic sensor task of the 8-32-32-6 tanh regressor (`weec train`
from scratch, then integer-only C for a Cortex-M0).

Six hidden quantities u (uniform in [-1, 1]) are what we want to know. Eight
sensors each read a fixed mix of them, with an offset, a gain error that
saturates (tanh), and noise:
    x = tanh(1.2 * (u @ M) + b) + N(0, 0.02^2),   M: 6x8, b: 8, fixed (seed 2026)
The targets are the hidden quantities themselves, y = u: the network has to
undo the mixing and the saturation. Writes float32 .npy files:
    train_x.npy [20000, 8], train_y.npy [20000, 6], test_x.npy [4000, 8], test_y.npy [4000, 6]
Usage: make_data.py OUT_DIR
"""
import os
import sys

import numpy as np


def make(rng, m, b, n):
    u = rng.uniform(-1, 1, size=(n, 6))
    x = np.tanh(1.2 * (u @ m) + b) + rng.normal(0, 0.02, size=(n, 8))
    return x.astype(np.float32), u.astype(np.float32)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(2026)
    m = rng.normal(0, 1 / np.sqrt(6), size=(6, 8))
    b = rng.normal(0, 0.2, size=8)
    for name, n in [("train", 20000), ("test", 4000)]:
        x, y = make(rng, m, b, n)
        np.save(os.path.join(out, f"{name}_x.npy"), x)
        np.save(os.path.join(out, f"{name}_y.npy"), y)
    print(f"wrote {out}/{{train,test}}_{{x,y}}.npy (20000 and 4000 samples, 8 sensors, 6 targets)")


if __name__ == "__main__":
    main()
