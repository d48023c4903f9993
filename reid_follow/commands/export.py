"""``reid-follow export``: a registry model (+ checkpoint) to ONNX, with a torch-vs-ONNX parity check.

The graph takes normalised RGB input; mean/std go into the ONNX metadata, where ``onnx:`` embedders
read them (see reid_follow.models.export).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys

import yaml

log = logging.getLogger(__name__)


def key_value(text: str) -> tuple[str, object]:
    """A ``KEY=VALUE`` command-line setting, the value read as YAML so numbers, booleans and lists
    keep their types (``stride=12``, ``jpm=true``)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, yaml.safe_load(value)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="registry name, e.g. rga_sc_r50, vit_small_transreid")
    p.add_argument("--checkpoint", help="our training checkpoint, an official TransReID one, or ImageNet weights")
    p.add_argument("--out", required=True, help="ONNX file to write")
    p.add_argument("--fp16", action="store_true", help="half-precision weights and input (GPU / TensorRT)")
    p.add_argument("--dynamic-batch", action="store_true", help="named dynamic batch axis (default: batch 1)")
    p.add_argument("--set", dest="cfg", action="append", type=key_value, default=[], metavar="KEY=VALUE",
                   help="build_model option, e.g. --set stride=12 --set jpm=true (repeatable)")
    p.add_argument("--no-parity", action="store_true", help="skip the onnxruntime parity check")


def main(args: argparse.Namespace) -> int:
    from ..models import build_model
    from ..models.checkpoint import load_inference_model
    from ..models.export import export_onnx, parity

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cfg = dict(args.cfg)
    if args.checkpoint:
        model = load_inference_model(args.model, args.checkpoint, **cfg)
    else:
        log.warning("no --checkpoint: exporting %s with random weights", args.model)
        model = build_model(args.model, **cfg).eval()
    path = export_onnx(model, args.out, fp16=args.fp16, dynamic_batch=args.dynamic_batch)
    report = {"model": args.model, "out": str(path), "input_size": list(model.spec.input_size),
              "feat_dim": model.spec.feat_dim, "mean": list(model.spec.mean), "std": list(model.spec.std),
              "fp16": args.fp16, "dynamic_batch": args.dynamic_batch}
    if not args.no_parity:
        diffs = parity(model, path, (1, 8) if args.dynamic_batch else (1,))
        report["parity"] = {f"batch_{b}": d for b, d in diffs.items()}
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
