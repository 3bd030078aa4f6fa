"""Speed and accuracy of the generator's model in scratch variants, on each provider.

Measures, on the built-in portrait driven by the built-in performance (or
--portrait), the committed warp model run four ways (plain session.run, I/O
binding, static shapes, and on CUDA static shapes + CUDA graph), and graph-level
variants built here in memory, never committed:

* ``zeros-padding``: GridSample with padding "zeros" on a grid clamped to the
  border pixels' centres: the same result (border padding clamps the same way)
  through onnxruntime's much faster CPU kernel for zeros padding;
* ``fp16``: every float tensor in half precision except GridSample and Range
  (which have no fp16 CUDA kernels; casts around them).  Where onnxruntime
  cannot run it (the CPU has no fp16 kernels for most ops) its accuracy is
  still measured by running the same graph in NumPy (onnx's reference
  evaluator, in float16 arithmetic).

Accuracy is the mean and max absolute difference, in grey levels, from the
committed model's plain float32 run on the CPU.  Needs the ``onnx`` package.

    python bench/generator_variants.py [--device all|cpu|cuda] [--frames N] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from puppet.generators import runtime  # noqa: E402
from puppet.resources import model_file  # noqa: E402

FP32_ONLY = {"GridSample", "Range"}  # no float16 CUDA kernels in onnxruntime


def _inputs(portrait_path: str | None, frames: int, size: int):
    """The static inputs and ``frames`` per-frame inputs of a real portrait and motion."""
    from puppet.demo import builtin_portrait
    from puppet.engine import FrameRenderer
    from puppet.generators import base as generators
    from puppet.portrait import load_portrait
    from puppet.sources.procedural import performance

    portrait = (builtin_portrait(size=size) if portrait_path is None
                else load_portrait(portrait_path, size))
    generator = generators.create("warp", "cpu")
    renderer = FrameRenderer(portrait, generator)
    feeds = []
    for t, face in performance(portrait.face, 10.0, 25.0):
        motion = renderer.motion_for(face, t)
        if not motion.neutral:
            feeds.append(generator.frame_inputs(renderer.prepared, motion))
        if len(feeds) >= frames:
            break
    # the CPU generator draws with OpenCV: the whole model's fine portrait is added here
    fine = renderer.prepared.drawer.fine
    static = {**renderer.prepared.static_inputs,
              "portrait": np.ascontiguousarray(fine.transpose(2, 0, 1)[None], np.float32) / 255.0}
    return static, feeds


# ---------------------------------------------------------------------------
# variants


def zeros_padding(model: onnx.ModelProto) -> onnx.ModelProto:
    """GridSample(border) -> GridSample(zeros) on a grid clamped to [1/W - 1, 1 - 1/W]."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    nodes = []
    for node in m.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if (node.op_type == "GridSample" and attrs.get("padding_mode", b"zeros") == b"border"
                and not attrs.get("align_corners", 0)):
            x, grid = node.input
            p = f"{node.name or node.output[0]}_clamp"
            m.graph.initializer.extend([
                numpy_helper.from_array(np.array([3, 2], np.int64), f"{p}_wh_idx"),
                numpy_helper.from_array(np.array(1.0, np.float32), f"{p}_one")])
            nodes += [
                helper.make_node("Shape", [x], [f"{p}_shape"]),
                helper.make_node("Gather", [f"{p}_shape", f"{p}_wh_idx"], [f"{p}_wh"], axis=0),
                helper.make_node("Cast", [f"{p}_wh"], [f"{p}_whf"], to=TensorProto.FLOAT),
                helper.make_node("Div", [f"{p}_one", f"{p}_whf"], [f"{p}_inv"]),
                helper.make_node("Sub", [f"{p}_inv", f"{p}_one"], [f"{p}_lo"]),
                helper.make_node("Sub", [f"{p}_one", f"{p}_inv"], [f"{p}_hi"]),
                helper.make_node("Max", [grid, f"{p}_lo"], [f"{p}_g1"]),
                helper.make_node("Min", [f"{p}_g1", f"{p}_hi"], [f"{p}_g2"]),
            ]
            new = helper.make_node("GridSample", [x, f"{p}_g2"], list(node.output),
                                   name=node.name, mode=attrs.get("mode", b"linear").decode(),
                                   padding_mode="zeros", align_corners=0)
            nodes.append(new)
        else:
            nodes.append(node)
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    return m


def fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """Every float tensor in float16 except around GridSample and Range; the model's
    inputs and outputs keep their types (casts at the edges)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    floats = {i.name for i in g.initializer if i.data_type == TensorProto.FLOAT}
    for init in g.initializer:
        if init.data_type == TensorProto.FLOAT:
            arr = numpy_helper.to_array(init).astype(np.float16)
            init.CopyFrom(numpy_helper.from_array(arr, init.name))
    rename = {}
    nodes = []
    for inp in g.input:
        if inp.type.tensor_type.elem_type == TensorProto.FLOAT:
            rename[inp.name] = f"{inp.name}_h"
            nodes.append(helper.make_node("Cast", [inp.name], [rename[inp.name]],
                                          to=TensorProto.FLOAT16))
    n_cast = 0
    for node in g.node:
        node = _renamed(node, rename)
        if node.op_type == "Cast" and helper.get_attribute_value(node.attribute[0]) == \
                TensorProto.FLOAT:
            node.attribute[0].i = TensorProto.FLOAT16
        if node.op_type in FP32_ONLY and (node.op_type != "Range" or node.input[0] in floats):
            # (a Range of int64, the boxes' pixel indices, stays as it is)
            ins = []
            for name in node.input:
                if not name:
                    ins.append(name)
                    continue
                n_cast += 1
                cast = f"{name}_f32_{n_cast}"
                nodes.append(helper.make_node("Cast", [name], [cast], to=TensorProto.FLOAT))
                ins.append(cast)
            outs = [f"{o}_f32" for o in node.output]
            new = helper.make_node(node.op_type, ins, outs, name=node.name)
            new.attribute.extend(node.attribute)
            nodes.append(new)
            for o, o32 in zip(node.output, outs):
                nodes.append(helper.make_node("Cast", [o32], [o], to=TensorProto.FLOAT16))
        else:
            nodes.append(node)
    del g.node[:]
    g.node.extend(nodes)
    del g.value_info[:]
    return m


def _renamed(node, rename):
    if not any(i in rename for i in node.input):
        return node
    new = onnx.NodeProto()
    new.CopyFrom(node)
    del new.input[:]
    new.input.extend(rename.get(i, i) for i in node.input)
    return new


# ---------------------------------------------------------------------------
# running


def _fp16_in_numpy(model: onnx.ModelProto, static, feeds) -> list[np.ndarray]:
    """Run a model in NumPy (float16 where the graph says so); GridSample and Resize by
    vectorised code instead of the reference evaluator's per-pixel loops."""
    from onnx.reference import ReferenceEvaluator
    from onnx.reference.op_run import OpRun

    from puppet.generators.warp.model import bilinear_sample, resize_half_pixel

    class GridSample(OpRun):
        op_domain = ""

        def _run(self, x, grid, align_corners=None, mode=None, padding_mode=None):
            img = x[0].transpose(1, 2, 0).astype(np.float32)
            # border padding; the model's one zeros-padded GridSample has its grid clamped
            # inside the outer pixels' centres, where both paddings agree
            out = bilinear_sample(img, grid[0, ..., 0].astype(np.float64),
                                  grid[0, ..., 1].astype(np.float64))
            return (out.transpose(2, 0, 1)[None].astype(x.dtype),)

    class Resize(OpRun):
        op_domain = ""

        def _run(self, x, roi=None, scales=None, sizes=None, antialias=None, axes=None,
                 coordinate_transformation_mode=None, cubic_coeff_a=None,
                 exclude_outside=None, extrapolation_value=None, keep_aspect_ratio_policy=None,
                 mode=None, nearest_mode=None):
            size = int(sizes[2])
            img = x[0].transpose(1, 2, 0).astype(np.float32)
            out = resize_half_pixel(img, size)  # linear, half-pixel centres: the model's use
            return (out.transpose(2, 0, 1)[None].astype(x.dtype),)

    ev = ReferenceEvaluator(model, new_ops=[GridSample, Resize])
    with np.errstate(all="ignore"):  # float16 overflows are the finding, not noise
        return [ev.run(None, {**static, **f})[0] for f in feeds]


def _time_runner(runner, static, feeds, runs: int) -> dict:
    for f in feeds[:5]:
        runner.run(static, f)
    times = []
    outs = []
    for i in range(runs):
        f = feeds[i % len(feeds)]
        t0 = time.perf_counter()
        out = runner.run(static, f)
        times.append((time.perf_counter() - t0) * 1000.0)
        if i < len(feeds):
            outs.append(out)
    arr = np.asarray(times)
    return {"median_ms": float(np.median(arr)), "p95_ms": float(np.percentile(arr, 95)),
            "runs": runs, "outputs": outs}


def _error(outs, ref) -> dict:
    diffs = [np.abs(a.astype(np.float64) - b.astype(np.float64)) for a, b in zip(outs, ref)]
    return {"mean_abs_grey": float(np.mean([d.mean() for d in diffs])),
            "max_abs_grey": float(max(d.max() for d in diffs))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", choices=("all", "cpu", "cuda"), default="all")
    ap.add_argument("--portrait", help="a portrait image (default: built-in)")
    ap.add_argument("--size", type=int, default=1280)
    ap.add_argument("--frames", type=int, default=40, help="distinct frames (default 40)")
    ap.add_argument("--runs", type=int, default=300, help="timed runs per case (default 300)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: Puppet's)")
    ap.add_argument("--json", help="write the results here too")
    args = ap.parse_args(argv)

    static, feeds = _inputs(args.portrait, args.frames, args.size)
    base = onnx.load(str(model_file("puppet_warp.onnx")))
    plain_cpu, _ = runtime.create_session(model_file("puppet_warp.onnx"), "cpu", args.threads)
    reference = [plain_cpu.run(None, {**static, **f})[0] for f in feeds]
    variants = {"committed": base, "zeros-padding": zeros_padding(base), "fp16": fp16(base)}
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    s = (static["portrait"].shape[-1] + 1) // 2
    results: dict = {"crop": f"{s}x{s}", "points": int(static["src_points"].shape[0]),
                     "frames": len(feeds), "cases": []}

    def report(case: dict) -> None:
        results["cases"].append(case)
        timing = (f"{case['median_ms']:7.2f} ms median {case['p95_ms']:7.2f} p95"
                  if "median_ms" in case else f"{'':27s}")
        err = (f"  error {case['mean_abs_grey']:.4f} mean {case['max_abs_grey']:.0f} max grey"
               if "mean_abs_grey" in case else "")
        print(f"{case['device']:5s} {case['variant']:14s} {case.get('mode', ''):14s} "
              f"{timing}{err}  {case.get('note', '')}", flush=True)

    for device in devices:
        for name, model in variants.items():
            data = model.SerializeToString()
            if name == "fp16" and device == "cpu":
                # onnxruntime's CPU runs most fp16 ops in float32 behind inserted casts,
                # so the true float16 arithmetic (what CUDA does) is emulated in NumPy
                outs = _fp16_in_numpy(model, static, feeds[:4])
                report({"device": "numpy", "variant": name, "mode": "float16",
                        **_error(outs, reference[:4]),
                        "note": "4 frames in NumPy float16 arithmetic"})
            try:
                session, info = runtime.create_session(data, device, args.threads)
            except Exception as exc:  # noqa: BLE001 - reported
                report({"device": device, "variant": name, "note": f"cannot run: {exc}"[:300]})
                continue
            modes = ([("plain", {"binding": False}), ("io-binding", {}),
                      ("static-shapes", {"static_shapes": True})]
                     if name == "committed" else [("io-binding", {})])
            for mode, kw in modes:
                runner = runtime.ModelRunner(session, info, **kw)
                try:
                    timed = _time_runner(runner, static, feeds, args.runs)
                except Exception as exc:  # noqa: BLE001
                    report({"device": device, "variant": name, "mode": mode,
                            "note": f"failed: {exc}"[:300]})
                    continue
                outs = timed.pop("outputs")
                report({"device": device, "variant": name, "mode": runner.mode, **timed,
                        **_error(outs, reference), "note": runner.note})
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
