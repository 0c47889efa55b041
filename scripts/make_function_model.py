#!/usr/bin/python3
"""Exports a tiny PyTorch model whose submodules become ONNX model-local
functions (torch.onnx.export(..., export_modules_as_functions=...)), the form
newer exporters emit. weec must inline them; tests/e2e compares weec's output
with PyTorch's on the saved input.

Usage: /usr/bin/python3 scripts/make_function_model.py [--out tests/data/torch_functions]
"""
import argparse
import os

import numpy as np
import onnx
import torch


class ScaledGelu(torch.nn.Module):
    """Exported as one function: tanh-approximated GELU times a learned scale."""

    def __init__(self, n):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.linspace(0.5, 1.5, n))

    def forward(self, x):
        return torch.nn.functional.gelu(x, approximate="tanh") * self.scale


class Block(torch.nn.Module):
    """Linear + ScaledGelu + residual: a function that calls another function."""

    def __init__(self, n):
        super().__init__()
        self.fc = torch.nn.Linear(n, n)
        self.act = ScaledGelu(n)

    def forward(self, x):
        return x + self.act(self.fc(x))


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = torch.nn.Linear(6, 16)
        self.b1 = Block(16)
        self.b2 = Block(16)
        self.out = torch.nn.Linear(16, 3)

    def forward(self, x):
        return torch.softmax(self.out(self.b2(self.b1(self.inp(x)))), dim=-1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/data/torch_functions")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    net = Net().eval()
    x = torch.randn(4, 6)
    path = os.path.join(args.out, "model.onnx")
    torch.onnx.export(net, (x,), path, input_names=["x"], output_names=["probs"], opset_version=15,
                      export_modules_as_functions={Block, ScaledGelu})
    model = onnx.load(path)
    onnx.checker.check_model(model)
    assert len(model.functions) >= 2, "expected model-local functions in the export"
    with torch.no_grad():
        y = net(x).numpy()
    np.save(os.path.join(args.out, "input_0.npy"), x.numpy())
    np.save(os.path.join(args.out, "expected_output_0.npy"), y)
    print(f"wrote {path}: {len(model.functions)} functions "
          f"({', '.join(f.name for f in model.functions)}), graph nodes "
          f"{[n.op_type for n in model.graph.node]}")


if __name__ == "__main__":
    main()
