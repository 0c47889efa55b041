#!/usr/bin/python3
"""Writes hostile model and tensor files into DIR, plus DIR/cases.tsv.

Usage: make_hostile.py DIR

Each case is one line of cases.tsv: name, weec subcommand, file, extra
argument ('-' for none) and a fragment the error message must contain.
tests/hostile/run.sh runs them. The files are generated at test time so the
repository holds no binaries; every one is small, even the ones that claim to
be enormous, because weec must refuse them before allocating anything.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
CASES = []
F32 = TensorProto.FLOAT
I64 = TensorProto.INT64
X4 = os.path.join(OUT, "x4.npy")  # a valid input for the f32[4] models
np.save(X4, np.arange(4, dtype=np.float32))


def case(name, fragment, data, cmd="compile", arg="-", ext="onnx"):
    """cmd compile: `weec compile FILE`; cmd run: `weec run FILE ARG`."""
    path = os.path.join(OUT, f"{name}.{ext}")
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.SerializeToString())
    CASES.append((name, cmd, path, arg, fragment))
    return path


def vi(name, shape, dtype=F32):
    return helper.make_tensor_value_info(name, dtype, shape)


def model(nodes, inputs=None, outputs=None, inits=(), opset=17, domains=(), ir=8):
    g = helper.make_graph(nodes, "g", inputs if inputs is not None else [vi("x", [4])],
                          outputs if outputs is not None else [vi("y", [4])], list(inits))
    ops = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    m = helper.make_model(g, opset_imports=ops)
    m.ir_version = ir
    return m


def relu(i="x", o="y", name="r"):
    return helper.make_node("Relu", [i], [o], name=name)


def raw_init(name, dims, raw=b"\0" * 4, dtype=F32):
    # Some bytes even for absurd shapes: the ONNX checker wants a value field.
    t = TensorProto(name=name, data_type=dtype, dims=dims)
    t.raw_data = raw
    return t


def add_init(init):  # y = x + init, so the initializer is really used
    return model([helper.make_node("Add", ["x", init.name], ["y"], name="add")], inits=[init])


# ---- sizes: overflow, negative, absurd ----
case("dims_overflow", "overflows", add_init(raw_init("w", [1 << 31, 1 << 31, 1 << 31])))
case("negative_dim_initializer", "negative dim", add_init(raw_init("w", [-3, 4])))
case("negative_dim_input", "negative dim", model([relu()], inputs=[vi("x", [-5])], outputs=[vi("y", ["a"])]))
case("input_dims_overflow", "overflows",
     model([relu()], inputs=[vi("x", [1 << 40, 1 << 40])], outputs=[vi("y", ["a", "b"])]))
case("huge_initializer", "maximum tensor size", add_init(raw_init("w", [1000000, 1000000])))
case("huge_string_initializer", "maximum tensor size",
     add_init(TensorProto(name="w", data_type=TensorProto.STRING, dims=[10**12], string_data=[b"a"])))
case("huge_input", "maximum tensor size",
     model([relu()], inputs=[vi("x", [1000000, 1000000])], outputs=[vi("y", ["a", "b"])]))
shape = helper.make_tensor("s", I64, [2], [1000000, 1000000])
case("huge_constant_of_shape", "maximum tensor size",
     model([helper.make_node("ConstantOfShape", ["s"], ["y"], name="cos")], inputs=[],
           outputs=[vi("y", ["a", "b"])], inits=[shape]))
case("huge_expand", "maximum tensor size",
     model([helper.make_node("Expand", ["x", "s"], ["y"], name="exp")], inputs=[vi("x", [1])],
           outputs=[vi("y", ["a"])], inits=[helper.make_tensor("s", I64, [1], [10**12])]))
case("huge_tile", "maximum tensor size",
     model([helper.make_node("Tile", ["x", "r"], ["y"], name="tile")], outputs=[vi("y", ["a"])],
           inits=[helper.make_tensor("r", I64, [1], [1 << 40])]))

# ---- data that disagrees with its shape ----
case("raw_data_short", "bytes of raw data", add_init(raw_init("w", [4], b"\0" * 12)))
case("raw_data_long", "bytes of raw data", add_init(raw_init("w", [4], b"\0" * 20)))
case("float_data_count", "has 3 values", add_init(TensorProto(name="w", data_type=F32, dims=[4], float_data=[1, 2, 3])))
case("constant_raw_data_short", "bytes of raw data",
     model([helper.make_node("Constant", [], ["c"], value=raw_init("v", [4], b"\0" * 3), name="k"),
            helper.make_node("Add", ["x", "c"], ["y"], name="add")]))

# ---- graph structure ----
case("cycle", "'z'", model([helper.make_node("Relu", ["z"], ["w"], name="a"),
                            helper.make_node("Relu", ["w"], ["z"], name="b"),
                            helper.make_node("Add", ["x", "z"], ["y"], name="c")]))
case("self_loop", "'y'", model([helper.make_node("Add", ["x", "y"], ["y"], name="loop")]))
case("duplicate_value_names", "'t'", model([helper.make_node("Relu", ["x"], ["t"], name="a"),
                                            helper.make_node("Neg", ["x"], ["t"], name="b"),
                                            helper.make_node("Relu", ["t"], ["y"], name="c")]))
case("duplicate_initializers", "not unique", model(
    [helper.make_node("Add", ["x", "w"], ["y"], name="add")],
    inits=[helper.make_tensor("w", F32, [4], [1] * 4), helper.make_tensor("w", F32, [4], [2] * 4)]))
case("duplicate_inputs", "'x'", model([relu()], inputs=[vi("x", [4]), vi("x", [4])]))
case("undefined_input", "'nope'", model([helper.make_node("Add", ["x", "nope"], ["y"], name="add")]))
case("undefined_output", "'ghost'", model([relu()], outputs=[vi("ghost", [4])]))
case("no_graph", "no graph", onnx.ModelProto(ir_version=8, opset_import=[helper.make_opsetid("", 17)]))
case("wrong_arity", "input size 1", model([helper.make_node("Add", ["x"], ["y"], name="add")]))

# ---- bytes that are not a model ----
good = model([relu()]).SerializeToString()
case("truncated_protobuf", "truncated", good[: len(good) // 2])
case("empty_file", "no graph", b"")
case("garbage", "not a valid ONNX model", bytes(range(256)) * 4)
case("png_bytes", "not a valid ONNX model", b"\x89PNG\r\n\x1a\n" + b"\0" * 64)


def enc_varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(num, payload):  # length-delimited field
    return enc_varint(num << 3 | 2) + enc_varint(len(payload)) + payload


def nested_model(depth):
    # Written by hand: protobuf's own serializers refuse this depth. Each level
    # is GraphProto{node: If{attribute then_branch: GraphProto{...}}}.
    g = field(2, b"inner") + field(12, field(1, b"y"))
    for _ in range(depth):
        attr = field(1, b"then_branch") + enc_varint(20 << 3) + enc_varint(5) + field(6, g)
        node = field(1, b"c") + field(2, b"y") + field(4, b"If") + field(5, attr)
        g = field(1, node) + field(2, b"g") + field(12, field(1, b"y"))
    opset = field(8, enc_varint(2 << 3) + enc_varint(17))
    return enc_varint(1 << 3) + enc_varint(8) + opset + field(7, g)


case("nested_subgraphs_10000", "nested", nested_model(10000))
case("nested_subgraphs_200", "nested", nested_model(200))

# ---- attributes, opsets, domains, types ----
case("attr_wrong_type", "perm", model([helper.make_node("Transpose", ["x"], ["y"], name="t", perm=1.5)]))
then = helper.make_graph([relu()], "then", [], [vi("y", [4])])
case("attr_graph_as_int", "then_branch", model(
    [helper.make_node("If", ["c"], ["y"], name="if", then_branch=3, else_branch=then)],
    inputs=[vi("x", [4]), vi("c", [], TensorProto.BOOL)]))
case("attr_unknown", "alpha", model([helper.make_node("Relu", ["x"], ["y"], name="r", alpha=1.0)]))
case("conv_zero_stride", "stride", model(
    [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", strides=[0, 0])],
    inputs=[vi("x", [1, 1, 4, 4])], outputs=[vi("y", ["a", "b", "c", "d"])],
    inits=[helper.make_tensor("w", F32, [1, 1, 1, 1], [1])]))
case("opset_99", "99", model([relu()], opset=99))
case("ir_version_99", "ir_version", model([relu()], ir=99))
case("unknown_domain", "com.evil", model(
    [helper.make_node("Frobnicate", ["x"], ["y"], name="f", domain="com.evil")], domains=["com.evil"]))
case("unknown_op", "NotAnOp", model([helper.make_node("NotAnOp", ["x"], ["y"], name="n")]))
case("unknown_dtype", "dtype", model([relu()], inputs=[vi("x", [4], 99)]))
case("sequence_input", "sequence", model(
    [helper.make_node("SequenceLength", ["x"], ["y"], name="n")],
    inputs=[helper.make_tensor_sequence_value_info("x", F32, [4])], outputs=[vi("y", [], I64)]))
# Constant folding leaves a failing node for run time, so this one is run.
case("gather_out_of_range", "out of range", cmd="run", arg=X4, data=model(
    [helper.make_node("Gather", ["d", "i"], ["g"], name="gather"),
     helper.make_node("Add", ["x", "g"], ["y"], name="add")],
    inits=[helper.make_tensor("d", F32, [4], [1] * 4), helper.make_tensor("i", I64, [4], [0, 1, 2, 1 << 40])]))


# ---- text IR (.wir): the parser and verifier face the same hostility ----
def wir_nested(depth):
    text = "graph g() -> (%o) {\n  return %o\n}"  # innermost (never reached)
    for d in range(depth):
        text = f"graph g{d}() -> (%o) {{\n  %o: f32[] = If(%c) {{then_branch={text}}}\n  return %o\n}}"
    return ("graph main(%c: bool[]) -> (%o) {\n  %o: f32[] = If(%c) {then_branch=" + text + "}\n  return %o\n}\n").encode()


case("wir_nested_10000", "nested more than", wir_nested(10000), ext="wir")
case("wir_cycle", "%b", b"graph main(%x: f32[4]) -> (%y) {\n  %a: f32[4] = Relu(%b)\n  %b: f32[4] = Relu(%a)\n"
     b"  %y: f32[4] = Add(%x, %b)\n  return %y\n}\n", ext="wir")
case("wir_huge_const", "needs 1000000000000 elements", b"graph main(%x: f32[4]) -> (%y) {\n"
     b"  %w: f32[1000000,1000000] = const [1.0]\n  %y: f32[4] = Add(%x, %x)\n  return %y\n}\n", ext="wir")
case("wir_huge_value", "maximum tensor size", b"graph main(%x: f32[1000000,1000000]) -> (%y) {\n"
     b"  %y: f32[1000000,1000000] = Relu(%x)\n  return %y\n}\n", ext="wir")

# ---- external data: must stay inside the model's directory, within the file ----
def external(name, location, offset=None, length=None, dims=(4,)):
    t = TensorProto(name="w", data_type=F32, dims=list(dims), data_location=TensorProto.EXTERNAL)
    for k, v in (("location", location), ("offset", offset), ("length", length)):
        if v is not None:
            e = t.external_data.add()
            e.key, e.value = k, str(v)
    return case(name, None, add_init(t))


with open(os.path.join(OUT, "weights.bin"), "wb") as f:
    f.write(b"\0" * 16)
ext_dir = os.path.join(OUT, "ext")
os.makedirs(ext_dir, exist_ok=True)
if not os.path.lexists(os.path.join(OUT, "passwd_link")):
    os.symlink("/etc/passwd", os.path.join(OUT, "passwd_link"))
for name, frag, kw in [
    ("external_dotdot", "outside the model's directory", dict(location="../../etc/passwd")),
    ("external_absolute", "outside the model's directory", dict(location="/etc/passwd")),
    ("external_symlink", "outside the model's directory", dict(location="passwd_link")),
    ("external_missing", "cannot open", dict(location="missing.bin")),
    ("external_directory", "not a regular file", dict(location="ext")),
    ("external_offset_past_end", "past the end", dict(location="weights.bin", offset=100)),
    ("external_length_overflow", "past the end", dict(location="weights.bin", offset=8, length=(1 << 63) - 4)),
    ("external_wrong_length", "bytes of raw data", dict(location="weights.bin", length=8)),
    ("external_bad_offset", "offset", dict(location="weights.bin", offset="abc")),
    ("external_huge_offset", "offset", dict(location="weights.bin", offset="99999999999999999999999")),
    ("external_no_location", "no location", dict(location="")),
]:
    external(name, **kw)
    CASES[-1] = CASES[-1][:4] + (frag,)

# ---- hostile inputs for `weec run` ----
relu_path = os.path.join(OUT, "relu_ok.onnx")
with open(relu_path, "wb") as f:
    f.write(model([relu()]).SerializeToString())


def run_case(name, fragment, data, ext):
    path = case(name, fragment, data, cmd="run", arg="-", ext=ext)
    CASES[-1] = (name, "run", relu_path, path, fragment)


def npy(header, payload=b""):
    h = header.encode() + b" " * (-(len(header) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + payload


def npy_f4(shape):
    return "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }"


run_case("npy_truncated_data", "truncated", npy(npy_f4("(4,)"), b"\0" * 8), "npy")
run_case("npy_huge_shape", "maximum tensor size", npy(npy_f4("(1000000, 1000000)")), "npy")
run_case("npy_overflow_shape", "too large", npy(npy_f4("(99999999999999999999999, 1)")), "npy")
run_case("npy_header_past_end", "truncated", b"\x93NUMPY\x01\x00\xff\xff{'descr'", "npy")
run_case("pb_negative_dim", "negative dim", TensorProto(name="x", data_type=F32, dims=[-4]), "pb")
run_case("pb_huge", "maximum tensor size", TensorProto(name="x", data_type=F32, dims=[10**12]), "pb")

# The shape comes from the input data, so only the interpreter can refuse it.
dyn_path = os.path.join(OUT, "dynamic_shape.onnx")
with open(dyn_path, "wb") as f:
    f.write(model([helper.make_node("ConstantOfShape", ["s"], ["y"], name="cos")], inputs=[vi("s", [2], I64)],
                  outputs=[vi("y", ["a", "b"])]).SerializeToString())
run_case("run_dynamic_huge", "maximum tensor size",
         npy("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
             np.array([1000000, 1000000], np.int64).tobytes()), "npy")
CASES[-1] = (CASES[-1][0], "run", dyn_path) + CASES[-1][3:]

with open(os.path.join(OUT, "cases.tsv"), "w") as f:
    for c in CASES:
        f.write("\t".join(str(x) for x in c) + "\n")
print(f"wrote {len(CASES)} hostile cases to {OUT}")
