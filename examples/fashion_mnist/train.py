#!/usr/bin/python3
"""Train the two Fashion-MNIST demo models (an MLP and a small CNN) and export them.

Run with Debian's interpreter (it carries torch, numpy and onnx):

    /usr/bin/python3 examples/fashion_mnist/train.py [--out examples/fashion_mnist]

Writes mlp.onnx, cnn.onnx and models.json (PyTorch's own test accuracy, epochs,
seed, training time). Both models take RAW pixel values 0..255 as float32
[1,1,28,28] (input "image") and return logits [1,10] (output "logits"). The
normalisation is the first thing inside the graph, as one scalar Mul and one
scalar Add, so a compiler can fold it into the first layer's weights and the
int8 input can be the raw u8 pixel itself.

CPU only, 2 threads, fixed seed, deterministic algorithms: a rerun with the same
torch version writes the same weights.
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import onnx
import torch
from torch import nn

DATA_DIR = "/usr/share/datasets/fashion-mnist"
SEED = 0
# Published per-pixel statistics of the Fashion-MNIST training set (same
# constants as scripts/make_example_model.py).
MEAN = 0.2860
STD = 0.3530
# (p/255 - MEAN)/STD == p*SCALE + SHIFT: one Mul and one Add on the raw pixel.
SCALE = 1.0 / (255.0 * STD)
SHIFT = -MEAN / STD


def read_idx_u8(path):
    """IDX (MNIST family): 2 zero bytes, type 0x08 (u8), rank, big-endian u32 dims."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not a u8 IDX file")
    rank = data[3]
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=rank, offset=4))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def load_split(prefix):
    """Raw pixels as float32 [N,1,28,28] (values 0..255) and int64 labels."""
    images = read_idx_u8(os.path.join(DATA_DIR, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx_u8(os.path.join(DATA_DIR, f"{prefix}-labels-idx1-ubyte.gz"))
    return images[:, None, :, :].astype(np.float32), labels.astype(np.int64)


class Normalize(nn.Module):
    """Raw pixel -> normalised pixel; exports as Mul(x, scalar) then Add(_, scalar)."""

    def forward(self, x):
        return x * SCALE + SHIFT


def make_mlp():
    # Flatten first, so the Mul/Add sit directly in front of the first Gemm.
    return nn.Sequential(
        nn.Flatten(), Normalize(),
        nn.Linear(784, 128), nn.ReLU(),
        nn.Linear(128, 10),
    )


def make_cnn():
    # The first Conv has no padding: padded zeros would be zeros of the
    # normalised image, and a pre-Conv affine folds exactly into the weights
    # (W' = W*SCALE, b' = b + SHIFT*sum(W)) only when no padding is involved.
    return nn.Sequential(
        Normalize(),
        nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),        # 8x13x13
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),  # 16x6x6
        nn.Flatten(),
        nn.Linear(16 * 6 * 6, 10),
    )


ARCHITECTURES = {
    "mlp": "Flatten, Mul+Add (normalise), Gemm 784->128, Relu, Gemm 128->10",
    "cnn": "Mul+Add (normalise), Conv 1->8 3x3 (no pad), BatchNorm, Relu, MaxPool 2, "
           "Conv 8->16 3x3 (pad 1), BatchNorm, Relu, MaxPool 2, Flatten, Gemm 576->10",
}


def train(model, x, y, epochs, batch_size, lr):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loss_fn = nn.CrossEntropyLoss()
    # A dedicated generator keeps the shuffle order independent of any other
    # random draws, so reruns produce the same weights.
    gen = torch.Generator().manual_seed(SEED)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    model.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), batch_size):
            idx = perm[i:i + batch_size]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        print(f"  epoch {epoch + 1}/{epochs}: train loss {total / len(x):.4f}", flush=True)


@torch.no_grad()
def count_correct(model, x, y):
    model.eval()
    preds = torch.cat([model(torch.from_numpy(x[i:i + 1000])).argmax(1)
                       for i in range(0, len(x), 1000)])
    return int((preds.numpy() == y).sum())


def export(model, path, x_example):
    model.eval()
    # TrainingMode.PRESERVE on an eval-mode model exports inference semantics
    # but keeps BatchNormalization as its own node (the default EVAL mode fuses
    # it into the Conv), so weec's own BatchNorm folding is exercised.
    torch.onnx.export(
        model, torch.from_numpy(x_example), path,
        opset_version=13,
        training=torch.onnx.TrainingMode.PRESERVE,
        do_constant_folding=False,
        input_names=["image"], output_names=["logits"],
    )
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    return [n.op_type for n in m.graph.node]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--mlp-epochs", type=int, default=6)
    ap.add_argument("--cnn-epochs", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=128)
    args = ap.parse_args()

    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    x_train, y_train = load_split("train")
    x_test, y_test = load_split("t10k")

    report = {
        "dataset": DATA_DIR,
        "train_images": len(x_train),
        "test_images": len(x_test),
        "input": "image f32[1,1,28,28], raw pixel values 0..255",
        "output": "logits f32[1,10]",
        "normalisation_in_graph": {"mul": SCALE, "add": SHIFT, "mean": MEAN, "std": STD},
        "torch_version": torch.__version__,
        "seed": SEED,
        "threads": 2,
        "models": {},
    }
    for name, make, epochs, lr in [("mlp", make_mlp, args.mlp_epochs, 1e-3),
                                   ("cnn", make_cnn, args.cnn_epochs, 3e-3)]:
        torch.manual_seed(SEED)  # same initial weights on every run
        model = make()
        print(f"{name}: training {epochs} epochs", flush=True)
        start, cpu_start = time.time(), time.process_time()
        train(model, x_train, y_train, epochs, args.batch_size, lr)
        seconds, cpu_seconds = time.time() - start, time.process_time() - cpu_start
        correct = count_correct(model, x_test, y_test)
        path = os.path.join(args.out, f"{name}.onnx")
        ops = export(model, path, x_test[:1])
        params = sum(p.numel() for p in model.parameters())
        print(f"{name}: test accuracy {100.0 * correct / len(x_test):.2f}% ({correct}/{len(x_test)}), "
              f"{params} parameters, {seconds:.1f} s ({cpu_seconds:.1f} s CPU); wrote {path} ({os.path.getsize(path)} bytes): "
              f"{' '.join(ops)}", flush=True)
        report["models"][name] = {
            "file": f"{name}.onnx",
            "architecture": ARCHITECTURES[name],
            "parameters": params,
            "epochs": epochs,
            "batch_size": args.batch_size,
            "optimizer": f"Adam lr {lr}, cosine annealing to 0 over the epochs",
            # Wall time depends on what else the machine runs; CPU time (both
            # threads summed) is the steadier measure.
            "train_seconds": round(seconds, 1),
            "train_cpu_seconds": round(cpu_seconds, 1),
            "test_correct": correct,
            "test_accuracy_percent": round(100.0 * correct / len(x_test), 2),
            "onnx_bytes": os.path.getsize(path),
            "onnx_ops": ops,
        }
    with open(os.path.join(args.out, "models.json"), "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print(f"wrote {os.path.join(args.out, 'models.json')}")


if __name__ == "__main__":
    main()
