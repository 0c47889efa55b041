#!/usr/bin/env python3
"""Prints the demo's float-vs-int8 table from `weec eval --json` lines and the
Cortex-M0 report of scripts/cortex_m0.sh.

Usage: demo_table.py EVAL.jsonl [EVAL.jsonl ...] [--m0 M0.txt] [--torch models.json]
"""
import json
import sys


def kb(n):
    return f"{n / 1024:.1f} KiB" if n >= 1024 else f"{n} B"


def main(argv):
    files, m0, torch = [], None, None
    it = iter(argv)
    for a in it:
        if a == "--m0":
            m0 = next(it)
        elif a == "--torch":
            torch = json.load(open(next(it)))
        else:
            files.append(a)
    rows = [json.loads(line) for f in files for line in open(f) if line.strip()]
    head = ["model", "variant", "top-1", "vs float", "latency", "arena", "weights", "code"]
    table = []
    for r in rows:
        name = r["model"].rsplit("/", 1)[-1].removesuffix(".onnx")
        agree = f"{100 * r['top1_agreement']:.2f}% same" if "top1_agreement" in r else ""
        table.append([name, r["variant"], f"{100 * r['accuracy']:.2f}%", agree,
                      f"{r['mean_latency_us']:.1f} µs", kb(r["arena_bytes"]), kb(r["weight_bytes"]),
                      kb(r["code_bytes"])])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *table)]
    line = lambda cells: "  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w)
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    print(line(head))
    print("  ".join("-" * w for w in widths))
    for row in table:
        print(line(row))
    samples = {r["samples"] for r in rows}
    cflags = {r.get("cflags", "") for r in rows}
    print(f"\n{'/'.join(map(str, samples))} Fashion-MNIST test images each; latency per inference of the "
          f"generated C ({', '.join(cflags)}), batch 1; int8 calibrated on training images only.")
    if torch:
        for name, m in torch.get("models", {}).items():
            print(f"PyTorch's own float accuracy for {name}: {m['test_accuracy_percent']:.2f}%")
    if m0:
        print()
        print(open(m0).read().rstrip())


if __name__ == "__main__":
    main(sys.argv[1:])
