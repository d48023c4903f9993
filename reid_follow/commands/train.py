"""``reid-follow train``: train a registered ReID model (see docs/training.md)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reid_follow.config_base import ConfigError
from reid_follow.data.base import DatasetError
from reid_follow.train.checkpoint import CheckpointError
from reid_follow.train.cli_config import add_config_arguments, describe, load_config, to_yaml
from reid_follow.train.config import TrainConfig


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p)
    p.add_argument("--model", help="registered model name (sets 'model')")
    p.add_argument("--dataset", help="dataset reader (sets 'data.dataset')")
    p.add_argument("--root", help="dataset folder (sets 'data.root')")
    p.add_argument("--epochs", help="sets 'epochs'")
    p.add_argument("--device", help="auto | cpu | cuda[:i] (sets 'device')")
    p.add_argument("--out", default="out/train", help="output folder: last.pt, metrics.json, curves.png, config.yaml")
    p.add_argument("--resume", default="", help="checkpoint to continue from (same model and data)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def main(args: argparse.Namespace) -> int:
    if args.params:
        print(describe(TrainConfig))
        return 0
    from reid_follow.train.trainer import Trainer

    try:
        cfg = load_config(TrainConfig, args.config, args.sets,
                          {"model": args.model, "data.dataset": args.dataset, "data.root": args.root,
                           "epochs": args.epochs, "device": args.device})
        dataset = cfg.data.build()
        print(f"{dataset.name} at {dataset.root}: {dataset.summary()}")
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text(to_yaml(cfg))
        trainer = Trainer(cfg, dataset, out, progress=not args.quiet)
        history = trainer.fit(resume=args.resume or None)
    except (ConfigError, DatasetError, CheckpointError, ValueError) as e:
        print(f"reid-follow train: error: {e}", file=sys.stderr)
        return 2
    last = history[-1]
    print(" ".join(f"{k}={last[k]:.4f}" for k in ("loss", "mAP", "rank1", "rank5") if k in last))
    print(f"wrote {out / 'last.pt'}, {out / 'metrics.json'}, {out / 'curves.png'}")
    return 0
