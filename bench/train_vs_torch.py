#!/usr/bin/python3
"""weec train against PyTorch on the same run: an MLP (default 784-128-10,
ReLU) on Fashion-MNIST, from the same initial weights (weec writes them with
--epochs 0), in the same sample order (weec's --save-order), with the same
hyper-parameters (Adam, or SGD with momentum; batch 64; mean cross entropy;
inputs standardised by the scale and shift weec folds into the model, in
float32). Prints the test accuracy of both and their seconds per epoch, from
this one run, and the accuracy difference.

PyTorch: Debian's python3-torch (1.13, CPU), torch.set_num_threads(THREADS),
the same thread count weec uses.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = "/usr/share/datasets/fashion-mnist"


def idx(name):
    import gzip
    with gzip.open(os.path.join(DATA, name)) as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


def weec_train(weec, args, out, extra):
    cmd = [weec, "train", "--mlp", args.mlp, "--data", os.path.join(DATA, "train-images-idx3-ubyte.gz"),
           "--labels", os.path.join(DATA, "train-labels-idx1-ubyte.gz"), "--optimizer", args.optimizer, "--lr", str(args.lr),
           "--momentum", str(args.momentum), "--batch-size", str(args.batch), "--seed", str(args.seed),
           "--threads", str(args.threads), "--val-split", str(args.val_split), "-q", "-o", out, *extra]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"weec train failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--mlp", default="784,128,10")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--optimizer", choices=["sgd", "adam"], default="adam")
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--val-split", type=float, default=0.0)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    weec = os.path.join(args.build, "tools", "weec", "weec")
    import torch
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        init, order = os.path.join(tmp, "init.onnx"), os.path.join(tmp, "order.npy")
        weec_train(weec, args, init, ["--epochs", "0"])
        test = ["--test-data", os.path.join(DATA, "t10k-images-idx3-ubyte.gz"),
                "--test-labels", os.path.join(DATA, "t10k-labels-idx1-ubyte.gz")]
        out = weec_train(weec, args, os.path.join(tmp, "trained.onnx"),
                         ["--epochs", str(args.epochs), "--save-order", order, *test])
        weec_secs = [float(s) for s in re.findall(r"^epoch \d+/\d+: .* \| ([0-9.]+) s$", out, re.M)]
        weec_acc = float(re.search(r"^test .* acc ([0-9.]+)%$", out, re.M).group(1))
        weights = {t.name: numpy_helper.to_array(t) for t in onnx.load(init).graph.initializer}
        orders = np.load(order)

    sizes = [int(s) for s in args.mlp.split(",")]
    layers = []
    for i in range(len(sizes) - 1):
        lin = torch.nn.Linear(sizes[i], sizes[i + 1])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(weights[f"fc{i}.weight"].copy()))
            lin.bias.copy_(torch.from_numpy(weights[f"fc{i}.bias"].copy()))
        layers.append(lin)
        if i + 2 < len(sizes):
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    # The input transform weec folded into the model: x * input_scale + input_shift (float32).
    scale = torch.from_numpy(weights.get("input_scale", np.float32(1)).copy())
    shift = torch.from_numpy(weights.get("input_shift", np.float32(0)).copy())
    prep = lambda name: torch.from_numpy(idx(name).reshape(-1, sizes[0]).astype(np.float32)) * scale + shift
    x_train = prep("train-images-idx3-ubyte.gz")
    y_train = torch.from_numpy(idx("train-labels-idx1-ubyte.gz").astype(np.int64))
    x_test = prep("t10k-images-idx3-ubyte.gz")
    y_test = torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))
    if args.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    torch_secs = []
    for e in range(args.epochs):
        ord_e = torch.from_numpy(orders[e])
        t0 = time.perf_counter()
        for b in range(0, len(ord_e), args.batch):
            i = ord_e[b:b + args.batch]
            opt.zero_grad()
            loss_fn(model(x_train[i]), y_train[i]).backward()
            opt.step()
        torch_secs.append(time.perf_counter() - t0)
    with torch.no_grad():
        torch_acc = 100.0 * (model(x_test).argmax(1) == y_test).float().mean().item()

    med = lambda v: sorted(v)[len(v) // 2]
    how = f"SGD lr {args.lr} momentum {args.momentum}" if args.optimizer == "sgd" else f"Adam lr {args.lr}"
    print(f"MLP {args.mlp}, {args.epochs} epochs, {how}, batch {args.batch}, "
          f"seed {args.seed}, {args.threads} threads, {orders.shape[1]} training images per epoch")
    print("| | test accuracy | seconds per epoch (median) | per epoch |")
    print("|---|---:|---:|---|")
    print(f"| weec train | {weec_acc:.2f}% | {med(weec_secs):.2f} | {', '.join(f'{s:.2f}' for s in weec_secs)} |")
    print(f"| PyTorch {torch.__version__} | {torch_acc:.2f}% | {med(torch_secs):.2f} | "
          f"{', '.join(f'{s:.2f}' for s in torch_secs)} |")
    print(f"accuracy difference {weec_acc - torch_acc:+.2f} pp; weec / PyTorch time per epoch "
          f"{med(weec_secs) / med(torch_secs):.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"weec_acc": weec_acc, "torch_acc": torch_acc, "weec_secs": weec_secs,
                       "torch_secs": torch_secs}, f)


if __name__ == "__main__":
    main()
