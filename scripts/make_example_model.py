#!/usr/bin/python3
"""Train a small Fashion-MNIST CNN and export it as an ONNX example for weec.

Run with Debian's interpreter (it carries torch, numpy and onnx):

    /usr/bin/python3 scripts/make_example_model.py [--out examples/fashion_mnist] [--epochs N]

Produces model.onnx plus a batch of sample inputs and the reference logits
computed by torch itself, so the compiler's output can be checked against
an independent implementation rather than another ONNX runtime.
"""
import argparse
import gzip
import os
import time

import numpy as np
import onnx
from onnx import numpy_helper
import torch
from torch import nn

DATA_DIR = "/usr/share/datasets/fashion-mnist"

# Published per-pixel statistics of the Fashion-MNIST training set. Fixed
# constants (rather than recomputed) so anyone feeding the model can
# reproduce the preprocessing exactly.
MEAN = 0.2860
STD = 0.3530

NUM_SAMPLES = 8
SEED = 0


def read_idx(path):
    """Minimal IDX reader: big-endian header, magic encodes dtype and rank."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = data[0] * 256 + data[1], data[2], data[3]
    if zero != 0 or dtype_code != 0x08:  # 0x08 = unsigned byte, all this set uses
        raise ValueError(f"{path}: unsupported IDX header")
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4)
    offset = 4 + 4 * ndim
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(tuple(dims))


def load_split(prefix):
    images = read_idx(os.path.join(DATA_DIR, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(DATA_DIR, f"{prefix}-labels-idx1-ubyte.gz"))
    x = (images.astype(np.float32) / 255.0 - MEAN) / STD
    return x[:, None, :, :].astype(np.float32), labels.astype(np.int64)


def make_model():
    # Deliberately tiny, but covers the ops the compiler must handle:
    # Conv, BatchNormalization, Relu, MaxPool, Flatten and Gemm.
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 7 * 7, 32),
        nn.ReLU(),
        nn.Linear(32, 10),
    )


def train(model, x, y, epochs, batch_size):
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
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
        print(f"epoch {epoch + 1}/{epochs}: train loss {total / len(x):.4f}")


@torch.no_grad()
def evaluate(model, x, y):
    model.eval()
    preds = torch.cat([model(torch.from_numpy(x[i:i + 1000])).argmax(1)
                       for i in range(0, len(x), 1000)])
    return (preds.numpy() == y).mean()


def save_tensor(out_dir, stem, arr, name):
    with open(os.path.join(out_dir, stem + ".pb"), "wb") as f:
        f.write(numpy_helper.from_array(arr, name=name).SerializeToString())
    np.save(os.path.join(out_dir, stem + ".npy"), arr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="examples/fashion_mnist")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=128)
    args = ap.parse_args()

    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)

    start = time.time()
    x_train, y_train = load_split("train")
    x_test, y_test = load_split("t10k")

    model = make_model()
    train(model, x_train, y_train, args.epochs, args.batch_size)
    acc = evaluate(model, x_test, y_test)
    print(f"test accuracy: {acc * 100:.2f}% on {len(x_test)} images")

    model.eval()
    model_path = os.path.join(args.out, "model.onnx")
    # The default TrainingMode.EVAL runs a peephole pass that fuses the
    # BatchNorm into the preceding Conv. PRESERVE (with the model already in
    # eval mode) exports inference semantics but keeps BatchNormalization as
    # a real node, so the example exercises that op in the compiler.
    torch.onnx.export(
        model, torch.from_numpy(x_test[:1]), model_path,
        opset_version=13,
        training=torch.onnx.TrainingMode.PRESERVE,
        do_constant_folding=False,
        input_names=["image"], output_names=["logits"],
        dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}},
    )
    onnx_model = onnx.load(model_path)
    onnx.checker.check_model(onnx_model, full_check=True)
    ops = sorted({n.op_type for n in onnx_model.graph.node})
    print(f"exported {model_path}: ops {', '.join(ops)}")

    # Reference outputs come from torch, not an ONNX runtime, so they are an
    # independent ground truth for whatever executes model.onnx.
    sample_x = np.ascontiguousarray(x_test[:NUM_SAMPLES])
    with torch.no_grad():
        logits = model(torch.from_numpy(sample_x)).numpy().astype(np.float32)
    save_tensor(args.out, "input_0", sample_x, "image")
    save_tensor(args.out, "expected_output_0", logits, "logits")
    np.save(os.path.join(args.out, "labels.npy"), y_test[:NUM_SAMPLES])
    print(f"sample labels {y_test[:NUM_SAMPLES].tolist()}, "
          f"predicted {logits.argmax(1).tolist()}")
    print(f"done in {time.time() - start:.1f}s")


if __name__ == "__main__":
    main()
