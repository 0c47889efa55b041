#!/usr/bin/python3
"""Builds the four benchmark networks with PyTorch and exports them to ONNX.

MLP 784-128-10; LeNet-5 with BatchNorm on 1x1x28x28; a depthwise-separable
keyword-spotting CNN (DS-CNN) on 1x1x49x10 with 4 depthwise+pointwise blocks;
an 8-32-32-6 tanh regressor. Weights are seeded random (latency does not depend
on training); BatchNorm running statistics are randomised so folding them is a
real transformation. Each net also gets a test data set (a random input and
PyTorch's output) in the ONNX layout, used to check the C output, and for
int8: NAME_calib.npy (256 calibration inputs), NAME_eval.npy (1000 other
inputs) and NAME_eval_ref.npy (PyTorch's float outputs for them). Inputs are
uniform in [-1, 1].
Also writes a one-node model used to measure ONNX Runtime's per-call overhead.

Usage: bench/make_nets.py OUT_DIR
"""
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import helper, numpy_helper, TensorProto


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x):
        return self.net(x)


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


class DSCNN(nn.Module):
    """DS-CNN-S style keyword spotter (Zhang et al., 'Hello Edge'), 64 channels."""

    def __init__(self, ch=64, blocks=4, classes=12):
        super().__init__()
        layers = [nn.Conv2d(1, ch, (10, 4), stride=(2, 2), padding=(5, 1)), nn.BatchNorm2d(ch), nn.ReLU()]
        for _ in range(blocks):
            layers += [nn.Conv2d(ch, ch, 3, padding=1, groups=ch), nn.BatchNorm2d(ch), nn.ReLU(),
                       nn.Conv2d(ch, ch, 1), nn.BatchNorm2d(ch), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(ch, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 6))

    def forward(self, x):
        return self.net(x)


NETS = [
    ("mlp", MLP, (1, 784)),
    ("lenet5", LeNet5, (1, 1, 28, 28)),
    ("dscnn", DSCNN, (1, 1, 49, 10)),
    ("regressor", Regressor, (1, 8)),
]


def randomise_batchnorm(model, gen):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.1)


def save_tensor(path, array, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(array, name).SerializeToString())


def one_node_model(path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "one_node", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, path)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "bench/nets"
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    data_gen = torch.Generator().manual_seed(1)  # int8 data: the nets stay those of earlier runs
    for name, cls, shape in NETS:
        model = cls()
        with torch.no_grad():
            randomise_batchnorm(model, gen)
        model.eval()
        x = torch.rand(shape, generator=gen) * 2 - 1
        with torch.no_grad():
            y = model(x)
        path = os.path.join(out, name + ".onnx")
        torch.onnx.export(model, x, path, input_names=["input"], output_names=["output"], opset_version=13)
        onnx.checker.check_model(onnx.load(path))
        data = os.path.join(out, name + "_data")
        os.makedirs(data, exist_ok=True)
        save_tensor(os.path.join(data, "input_0.pb"), x.numpy(), "input")
        save_tensor(os.path.join(data, "output_0.pb"), y.numpy(), "output")
        calib = torch.rand((256,) + shape[1:], generator=data_gen) * 2 - 1
        evals = torch.rand((1000,) + shape[1:], generator=data_gen) * 2 - 1
        with torch.no_grad():
            ref = torch.cat([model(evals[i:i + 1]) for i in range(evals.shape[0])])
        np.save(os.path.join(out, name + "_calib.npy"), calib.numpy())
        np.save(os.path.join(out, name + "_eval.npy"), evals.numpy())
        np.save(os.path.join(out, name + "_eval_ref.npy"), ref.numpy())
        params = sum(p.numel() for p in model.parameters())
        print(f"{name}: {path}, input {list(shape)}, {params} parameters")
    one_node_model(os.path.join(out, "one_node.onnx"))


if __name__ == "__main__":
    main()
