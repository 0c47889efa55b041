#!/usr/bin/python3
"""Quantisation-aware training against post-training quantisation on the
demo MLP (examples/fashion_mnist/mlp.onnx, 784-128-10, trained in PyTorch).

Each row is the generated C (`weec eval --backend c`) on the 10,000
Fashion-MNIST test images:
  float              the model as trained;
  PTQ int8 / int4    post-training quantisation, calibrated on 500 training images;
  QAT int8 / int4    `weec train --qat` fine-tuning (STE; weight scales track
                     max |w|), then compiled with the scales it learned;
  QAT int4 --lsq     the same with learned step sizes;
  fine-tuned + PTQ   the control: the same fine-tuning without fake
                     quantisation, then post-training quantisation, to show
                     how much of QAT's gain is the extra training itself.
Fine-tuning: all 60,000 training images, Adam lr 1e-5 annealed to 0
(cosine), batch 64, EPOCHS epochs, seed 1, 2 threads.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = "/usr/share/datasets/fashion-mnist"
MODEL = os.path.join(ROOT, "examples/fashion_mnist/mlp.onnx")
TRAIN = ["--data", f"{DATA}/train-images-idx3-ubyte.gz", "--labels", f"{DATA}/train-labels-idx1-ubyte.gz"]
TEST = ["--inputs", f"{DATA}/t10k-images-idx3-ubyte.gz", "--labels", f"{DATA}/t10k-labels-idx1-ubyte.gz"]


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stdout}{p.stderr}")
    return p.stdout


def evaluate(weec, model, mode=None, calib=True):
    cmd = [weec, "eval", model, *TEST, "--backend", "c", "--json", "-q"]
    if mode:
        cmd += ["--quantize", mode] + (["--calib", f"{DATA}/train-images-idx3-ubyte.gz"] if calib else [])
    rows = [json.loads(l) for l in run(cmd).splitlines() if l.startswith("{")]
    return rows[-1]  # with --quantize the last row is the quantised model


def fine_tune(weec, out, epochs, extra):
    text = run([weec, "train", MODEL, *TRAIN, "--optimizer", "adam", "--lr", "1e-5", "--lr-schedule", "cosine",
                "--epochs", str(epochs), "--seed", "1", "--val-split", "0", "-q", "-o", out, *extra])
    secs = [float(s) for s in re.findall(r"\| ([0-9.]+) s$", text, re.M)]
    return sum(secs) / max(len(secs), 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weec", default=os.path.join(ROOT, "build/tools/weec/weec"))
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--json", help="also write the rows here")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        def add(name, r, secs=None):
            rows.append({"variant": name, "accuracy": r["accuracy"], "weight_bytes": r["weight_bytes"],
                         "latency_us": r["mean_latency_us"], "seconds_per_epoch": secs})
            print(f"{name:22} {100 * r['accuracy']:6.2f}%", flush=True)
        add("float", evaluate(a.weec, MODEL))
        add("PTQ int8", evaluate(a.weec, MODEL, "int8"))
        add("PTQ int4", evaluate(a.weec, MODEL, "int4"))
        for mode, extra, name in [("int8", [], "QAT int8"), ("int4", [], "QAT int4"),
                                  ("int4", ["--lsq"], "QAT int4 --lsq")]:
            out = os.path.join(tmp, f"{mode}{len(extra)}.onnx")
            secs = fine_tune(a.weec, out, a.epochs, ["--qat", mode, *extra])
            add(name, evaluate(a.weec, out, mode, calib=False), secs)
        out = os.path.join(tmp, "ft.onnx")
        secs = fine_tune(a.weec, out, a.epochs, [])
        add("fine-tuned float", evaluate(a.weec, out), secs)
        add("fine-tuned + PTQ int8", evaluate(a.weec, out, "int8"))
        add("fine-tuned + PTQ int4", evaluate(a.weec, out, "int4"))
    f = rows[0]["accuracy"]
    print(f"\n| variant | test top-1 | vs float | weights | s/epoch |\n|---|---:|---:|---:|---:|")
    for r in rows:
        s = f"{r['seconds_per_epoch']:.1f}" if r["seconds_per_epoch"] else ""
        print(f"| {r['variant']} | {100 * r['accuracy']:.2f}% | {100 * (r['accuracy'] - f):+.2f} pp | "
              f"{r['weight_bytes']} B | {s} |")
    print(f"\nC backend, 10,000 test images; fine-tuning {a.epochs} epochs, Adam 1e-5 cosine, batch 64, seed 1.")
    if a.json:
        json.dump(rows, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
