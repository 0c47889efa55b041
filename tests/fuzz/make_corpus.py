#!/usr/bin/python3
"""Writes the fuzz targets' seed corpora into OUT/TARGET (scripts/fuzz.sh calls it).

Seeds come from files already on the machine, so nothing binary is committed:
the ONNX suite's node-test models and TensorProto inputs, the repo's .npy files
and differential regressions, text IR printed from suite models by `weec show`,
and .npy files numpy writes in every dtype and header version the reader knows.
A corpus the fuzzer has grown is kept; seeds are only added.
"""
import argparse
import io
import pathlib
import shutil
import subprocess

import numpy as np

SUITE = pathlib.Path("/usr/share/libonnx-testdata/data/node")
# Files larger than this only slow the fuzzer down (it mutates every byte).
MAX_SEED = 16 * 1024


def small(p):
    return p.stat().st_size <= MAX_SEED


def copy(src, dst_dir, name):
    dst = dst_dir / name
    if not dst.exists():
        shutil.copyfile(src, dst)


def onnx_models():
    return sorted(p for p in SUITE.glob("*/model.onnx") if small(p))


def seed_onnx(out):
    for p in onnx_models():
        copy(p, out, p.parent.name + ".onnx")


def seed_pb(out):
    # One input per node test: the suite holds ~2,000 files that repeat dtypes.
    for d in sorted(SUITE.iterdir()):
        pbs = sorted((d / "test_data_set_0").glob("*.pb"))
        if pbs and small(pbs[0]):
            copy(pbs[0], out, d.name + ".pb")


def seed_npy(out, src):
    for p in sorted(src.glob("examples/**/*.npy")):
        if small(p):
            copy(p, out, p.parent.name + "_" + p.name)
    arrays = {
        "f32_2x3": np.arange(6, dtype=np.float32).reshape(2, 3),
        "f64_scalar": np.float64(2.5),
        "i8_empty": np.zeros((0, 4), np.int8),
        "u8_fortran": np.asfortranarray(np.arange(12, dtype=np.uint8).reshape(3, 4)),
        "i64_big_endian": np.arange(3, dtype=">i8"),
        "bool_3": np.array([True, False, True]),
        "f16_2": np.array([0.1, -2], np.float16),
        "i16_1x1x1": np.ones((1, 1, 1), np.int16),
        "u32_4": np.arange(4, dtype=np.uint32),
    }
    for name, a in arrays.items():
        for version in [(1, 0), (2, 0), (3, 0)]:
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(a), version=version)
            dst = out / f"{name}_v{version[0]}.npy"
            if not dst.exists():
                dst.write_bytes(buf.getvalue())


def seed_text(out, src, weec):
    for p in sorted((src / "tests/differential/regressions").glob("*.wir")):
        copy(p, out, p.name)
    # Every 8th suite model: ~100 graphs over many ops, control flow included.
    models = onnx_models()[::8] + [m for m in onnx_models() if m.parent.name in ("test_if", "test_loop11")]
    for p in models:
        dst = out / (p.parent.name + ".wir")
        if dst.exists():
            continue
        r = subprocess.run([weec, "show", str(p), "-o", str(dst)], capture_output=True)
        if r.returncode != 0 and dst.exists():
            dst.unlink()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True, help="corpus root; seeds go to OUT/TARGET")
    ap.add_argument("--src", required=True, help="weec's source tree")
    ap.add_argument("--weec", required=True, help="a weec binary, to print text IR")
    ap.add_argument("targets", nargs="+")
    a = ap.parse_args()
    src, out = pathlib.Path(a.src), pathlib.Path(a.out)
    for t in a.targets:
        d = out / t
        d.mkdir(parents=True, exist_ok=True)
        if t == "onnx_loader":
            seed_onnx(d)
        elif t == "tensor_pb":
            seed_pb(d)
        elif t == "npy":
            seed_npy(d, src)
        elif t == "text_ir":
            seed_text(d, src, a.weec)
        # The regressions are seeds too: their neighbourhoods found bugs before.
        for p in sorted((src / "tests/fuzz/regressions" / t).glob("*")):
            copy(p, d, "regression_" + p.name)
        print(f"corpus {t}: {sum(1 for _ in d.iterdir())} files in {d}")


if __name__ == "__main__":
    main()
