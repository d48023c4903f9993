"""``reid-follow eval``: CMC / mAP of a ReID model on a dataset's query and gallery.

Prints a table, writes ``results.json``, ``cmc.png`` and ``ranked.png`` (query + top-k gallery
crops, green border = same person) to ``--out``. ``--weights`` is any checkpoint
``load_inference_model`` reads: ours, or an official TransReID / RGA file as it was published; a
model with SIE is fed each image's camera id (see :mod:`reid_follow.eval.evaluate`).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from reid_follow.commands.export import key_value
from reid_follow.config_base import ConfigError, flatten
from reid_follow.data.base import DatasetError
from reid_follow.eval.config import EvalConfig
from reid_follow.train.checkpoint import CheckpointError
from reid_follow.train.cli_config import add_config_arguments, describe, load_config


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p)
    p.add_argument("--model", default="", help="registered model name (default: the one stored in --weights)")
    p.add_argument("--weights", default="", help="checkpoint written by reid-follow train, or an official "
                   "TransReID / RGA one (without it: an untrained model, as a baseline)")
    p.add_argument("--model-option", dest="model_options", action="append", type=key_value, default=[],
                   metavar="KEY=VALUE", help="build_model / loader setting, e.g. neck_feat=after, view_num=8 "
                   "(repeatable)")
    p.add_argument("--dataset", help="dataset reader (sets 'data.dataset')")
    p.add_argument("--root", help="dataset folder (sets 'data.root')")
    p.add_argument("--metric", help="cosine | euclidean (sets 'metric')")
    p.add_argument("--rerank", action="store_const", const="true", help="also report re-ranking (sets 'rerank')")
    p.add_argument("--flip", action="store_const", const="true", help="flip averaging (sets 'flip')")
    p.add_argument("--device", help="auto | cpu | cuda[:i] (sets 'device')")
    p.add_argument("--out", default="out/eval", help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _model(name: str, weights: str, options: dict[str, object]):
    """The model to evaluate: loaded strictly from ``weights`` when given (the model name is read
    from our checkpoints and official RGA files; official TransReID files need ``--model``)."""
    from reid_follow.models import build_model
    from reid_follow.models.checkpoint import (Layout, detect_layout, load_inference_model, read_checkpoint,
                                               rga_model_name, state_dict_of)

    if not weights:
        if not name:
            raise ConfigError("give --model (and usually --weights)")
        return build_model(name, **options), name
    if not Path(weights).is_file():
        raise CheckpointError(f"checkpoint not found: {weights}")
    obj = read_checkpoint(weights)
    layout = detect_layout(obj)
    if not name and layout == Layout.REID_FOLLOW:
        name = obj["model_name"]
    elif not name and layout == Layout.RGA:
        name = rga_model_name(state_dict_of(obj))
    if not name:
        raise ConfigError(f"{weights} is a {layout} checkpoint that does not name its model: give --model")
    return load_inference_model(name, weights, **options), name


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
        model, name = _model(args.model, args.weights, dict(args.model_options))
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
