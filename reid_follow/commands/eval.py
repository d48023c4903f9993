"""``reid-follow eval``: CMC / mAP of a ReID model on a dataset's query and gallery.

Prints a table, writes ``results.json``, ``cmc.png`` and ``ranked.png`` (query + top-k gallery
crops, green border = same person) to ``--out``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from reid_follow.config_base import ConfigError, flatten
from reid_follow.data.base import DatasetError
from reid_follow.eval.config import EvalConfig
from reid_follow.train.checkpoint import CheckpointError
from reid_follow.train.cli_config import add_config_arguments, describe, load_config


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p)
    p.add_argument("--model", default="", help="registered model name (default: the one stored in --weights)")
    p.add_argument("--weights", default="", help="checkpoint written by reid-follow train (without it: an untrained model, as a baseline)")
    p.add_argument("--dataset", help="dataset reader (sets 'data.dataset')")
    p.add_argument("--root", help="dataset folder (sets 'data.root')")
    p.add_argument("--metric", help="cosine | euclidean (sets 'metric')")
    p.add_argument("--rerank", action="store_const", const="true", help="also report re-ranking (sets 'rerank')")
    p.add_argument("--flip", action="store_const", const="true", help="flip averaging (sets 'flip')")
    p.add_argument("--device", help="auto | cpu | cuda[:i] (sets 'device')")
    p.add_argument("--out", default="out/eval", help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _model(name: str, weights: str):
    """The model to evaluate: strictly loaded from ``weights`` when given."""
    from reid_follow.models import build_model
    from reid_follow.train import small_models  # noqa: F401  (registers small_cnn)
    from reid_follow.train.checkpoint import load_checkpoint, load_state_strict

    if not weights:
        if not name:
            raise ConfigError("give --model (and usually --weights)")
        return build_model(name), name
    ckpt = load_checkpoint(weights)
    stored = ckpt.get("model_name", "")
    if name and stored and name != stored:
        raise CheckpointError(f"{weights} holds a {stored!r} model, not {name!r}")
    options = {"input_size": tuple(ckpt["input_size"])} if ckpt.get("input_size") else {}
    model = build_model(name or stored, num_classes=int(ckpt.get("num_classes", 0)), **options)
    load_state_strict(model, ckpt["model"], weights)
    return model, name or stored


def main(args: argparse.Namespace) -> int:
    if args.params:
        print(describe(EvalConfig))
        return 0
    import torch

    from reid_follow.eval.evaluate import evaluate, score
    from reid_follow.eval.plots import plot_cmc, plot_ranked
    from reid_follow.reid.device import resolve_device

    try:
        cfg = load_config(EvalConfig, args.config, args.sets,
                          {"data.dataset": args.dataset, "data.root": args.root, "metric": args.metric,
                           "rerank": args.rerank, "flip": args.flip, "device": args.device})
        dataset = cfg.data.build()
        device = resolve_device(cfg.device)
        model, name = _model(args.model, args.weights)
        model = model.to(device)
        with torch.inference_mode():
            results = [evaluate(model, dataset, cfg.metric, flip=cfg.flip, device=device,
                                batch_size=cfg.batch_size, max_rank=cfg.max_rank, progress=not args.quiet)]
        if cfg.rerank:
            base = results[0]
            results.append(score(base.query_feats, base.gallery_feats, base.query, base.gallery, cfg.metric,
                                 True, cfg.flip, cfg.max_rank, {"k1": cfg.rerank_k1, "k2": cfg.rerank_k2,
                                                                "lambda_value": cfg.rerank_lambda}))
    except (ConfigError, DatasetError, CheckpointError, ValueError) as e:
        print(f"reid-follow eval: error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = {("re-ranked" if r.rerank else "plain"): r for r in results}
    print(f"{name} on {dataset.name} ({dataset.root}); {len(dataset.query)} queries, {len(dataset.gallery)} gallery; "
          f"metric {cfg.metric}{', flip' if cfg.flip else ''}{'' if args.weights else ' (UNTRAINED)'}")
    print(f"{'':10s} {'mAP':>7s} {'R1':>7s} {'R5':>7s} {'R10':>7s}")
    for label, r in rows.items():
        s = r.summary()
        print(f"{label:10s} {s['mAP']:7.4f} {s['rank1']:7.4f} {s.get('rank5', float('nan')):7.4f} "
              f"{s.get('rank10', float('nan')):7.4f}")
    report = {"model": name, "weights": args.weights or None, "dataset": dataset.name, "root": str(dataset.root),
              "summary": dataset.summary(), "config": flatten(cfg),
              "results": {label: {**r.summary(), "cmc": r.ranking.cmc.tolist()} for label, r in rows.items()}}
    (out / "results.json").write_text(json.dumps(report, indent=1))
    plot_cmc({label: r.ranking.cmc for label, r in rows.items()}, out / "cmc.png")
    plot_ranked(results[-1], out / "ranked.png", cfg.top_k, cfg.num_ranked)
    print(f"wrote {out / 'results.json'}, {out / 'cmc.png'}, {out / 'ranked.png'}")
    return 0
