"""The training loop: PK batches, CE + triplet (+ center) loss, warm-up + schedule, checkpoints.

Every epoch writes ``metrics.json`` (one entry per epoch), ``curves.png`` and ``last.pt`` under the
output folder (plus ``epoch_<n>.pt`` every ``checkpoint_every`` epochs), so a run can be watched,
plotted and resumed. Randomness (sampling, augmentation, dropout) is re-seeded from (seed, epoch)
at the start of each epoch: a run resumed from the checkpoint of epoch e computes exactly the
losses the uninterrupted run computes from epoch e + 1.
"""
from __future__ import annotations

import json
import time
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..config_base import flatten
from ..data.base import ReidDataset
from ..data.torch_dataset import ReidImageDataset
from ..data.transforms import train_transform
from ..eval.evaluate import eval_data, evaluate
from ..reid.device import resolve_device
from .checkpoint import CheckpointError, load_checkpoint, load_state_strict
from .config import TrainConfig
from .curves import plot_history
from .losses import ReidLoss
from .sampler import PKSampler
from .schedule import lr_factor


def model_options(config: TrainConfig, dataset: ReidDataset) -> dict[str, Any]:
    """The ``build_model`` settings of a run (stored in its checkpoints as ``model_cfg``).

    With ``sie_camera`` the SIE table has one row per camera id of the whole dataset, so that
    query and gallery cameras have their learnt vector at evaluation (as TransReID sizes it).
    """
    options: dict[str, Any] = {"input_size": list(config.input_size)} if config.input_size else {}
    if config.sie_camera:
        samples = dataset.train + dataset.query + dataset.gallery
        options["camera_num"] = max(s.camid for s in samples) + 1
    return options


def build_train_model(config: TrainConfig, num_classes: int, options: dict[str, Any]) -> nn.Module:
    """The registered model with a classifier over the training identities, built with ``options``
    (from :func:`model_options`)."""
    from ..models import build_model  # heavy model code is imported only when a model is built
    from . import small_models  # noqa: F401  (registers small_cnn)

    return build_model(config.model, num_classes=num_classes, **options)


def _param_groups(model: nn.Module, loss: ReidLoss, config: TrainConfig) -> list[dict]:
    """Weight decay on weights only (not biases / norm scales); centres in their own group."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim > 1 else no_decay).append(p)
    o = config.optim
    groups = [{"params": decay, "weight_decay": o.weight_decay, "base_lr": o.lr},
              {"params": no_decay, "weight_decay": 0.0, "base_lr": o.lr}]
    if loss.center is not None:
        groups.append({"params": list(loss.center.parameters()), "weight_decay": 0.0, "base_lr": o.center_lr})
    return groups


class Trainer:
    """Trains ``config.model`` on ``dataset.train``; evaluates on its query / gallery when present."""

    def __init__(self, config: TrainConfig, dataset: ReidDataset, out_dir: str | Path,
                 progress: bool = True) -> None:
        config.validate()
        if not dataset.train:
            raise ValueError(f"{dataset.name} at {dataset.root} has no training samples")
        self.config, self.dataset, self.progress = config, dataset, progress
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.device = resolve_device(config.device)
        self.labels = dataset.train_labels()
        torch.manual_seed(config.seed)
        self.model_cfg = model_options(config, dataset)
        self.model = build_train_model(config, len(self.labels), self.model_cfg).to(self.device)
        self.sie = getattr(self.model, "has_sie", False)
        spec = self.model.spec
        self.loss = ReidLoss(config.loss, len(self.labels), spec.feat_dim).to(self.device)
        groups = _param_groups(self.model, self.loss, config)
        if config.optim.optimizer == "sgd":
            self.optimizer: torch.optim.Optimizer = torch.optim.SGD(groups, lr=config.optim.lr,
                                                                    momentum=config.optim.momentum)
        else:
            self.optimizer = torch.optim.Adam(groups, lr=config.optim.lr)
        self.use_amp = config.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        size = tuple(spec.input_size)
        transform = train_transform(size, tuple(spec.mean), tuple(spec.std), config.augment)
        has_boxes = any(s.box is not None for s in dataset.train)
        self.train_data = ReidImageDataset(dataset.train, transform, self.labels,
                                           preload_size=size if has_boxes else None, progress=progress)
        self.sampler = PKSampler([s.pid for s in dataset.train], config.p, config.k, config.seed,
                                 config.batches_per_epoch or None)
        self.loader = DataLoader(self.train_data, batch_sampler=self.sampler, num_workers=config.num_workers)
        self.eval_data = (eval_data(dataset.query + dataset.gallery, spec, progress)
                          if dataset.query and dataset.gallery else None)
        self.history: list[dict[str, Any]] = []
        self.epoch = 0

    # -- checkpoints -------------------------------------------------------------------------
    def save_checkpoint(self, path: Path) -> Path:
        torch.save({"model": self.model.state_dict(), "model_name": self.config.model, "model_cfg": self.model_cfg,
                    "model_spec": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.model.spec).items()},
                    "input_size": list(self.config.input_size), "num_classes": len(self.labels),
                    "loss": self.loss.state_dict(), "optimizer": self.optimizer.state_dict(),
                    "scaler": self.scaler.state_dict(), "epoch": self.epoch, "history": self.history,
                    "config": flatten(self.config)}, path)
        return path

    def resume(self, path: str | Path) -> None:
        """Continue from a checkpoint of this same setup (model, classes and loss must match)."""
        ckpt = load_checkpoint(path)
        if ckpt.get("model_name") != self.config.model or ckpt.get("num_classes") != len(self.labels):
            raise CheckpointError(f"{path} was trained as {ckpt.get('model_name')!r} with {ckpt.get('num_classes')} "
                                  f"classes; this run is {self.config.model!r} with {len(self.labels)}")
        load_state_strict(self.model, ckpt["model"], str(path))
        load_state_strict(self.loss, ckpt["loss"], f"{path} (loss state)")
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scaler.load_state_dict(ckpt["scaler"])
        self.epoch, self.history = int(ckpt["epoch"]), list(ckpt["history"])

    # -- training ----------------------------------------------------------------------------
    def _set_lr(self, progress_epochs: float) -> float:
        f = lr_factor(progress_epochs, self.config.epochs, self.config.optim)
        for g in self.optimizer.param_groups:
            g["lr"] = g["base_lr"] * f
        return self.optimizer.param_groups[0]["lr"]

    def train_epoch(self) -> dict[str, Any]:
        """One epoch (``self.epoch`` + 1); returns the mean of the logged loss parts."""
        cfg, epoch = self.config, self.epoch + 1
        torch.manual_seed(cfg.seed * 100_003 + epoch)
        self.sampler.set_epoch(epoch)
        self.model.train()
        sums: dict[str, float] = {}
        images_seen, t0 = 0, time.perf_counter()
        n = len(self.loader)
        bar = tqdm(self.loader, desc=f"epoch {epoch}/{cfg.epochs}", unit="batch", disable=not self.progress,
                   leave=False)
        for i, (images, labels, camids, _) in enumerate(bar):
            lr = self._set_lr(epoch - 1 + i / n)
            images, labels = images.to(self.device), labels.to(self.device)
            cams = (camids.to(self.device),) if self.sie else ()
            autocast = torch.autocast("cuda", dtype=torch.float16) if self.use_amp else nullcontext()
            with autocast:
                out = self.model(images, *cams)
            total, parts = self.loss(out.logits, [f.float() for f in out.feats], labels)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(total).backward()
            if cfg.optim.grad_clip > 0:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.optim.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v
            images_seen += len(images)
            bar.set_postfix(loss=f"{parts['loss']:.3f}", lr=f"{lr:.2e}")
        elapsed = time.perf_counter() - t0
        self.epoch = epoch
        stats: dict[str, Any] = {"epoch": epoch, "lr": lr, "images_per_s": images_seen / elapsed,
                                 "seconds": elapsed}
        stats.update({k: v / n for k, v in sums.items()})
        return stats

    def evaluate(self) -> dict[str, float]:
        """Scores on the dataset's query / gallery (raises for a dataset without them)."""
        r = evaluate(self.model, self.dataset, self.config.eval_metric, flip=self.config.eval_flip,
                     device=self.device, num_workers=self.config.num_workers, data=self.eval_data)
        return r.summary()

    def fit(self, resume: str | Path | None = None) -> list[dict[str, Any]]:
        """Train up to ``config.epochs``; returns (and writes) the per-epoch history."""
        if resume is not None:
            self.resume(resume)
        cfg = self.config
        can_eval = self.eval_data is not None
        while self.epoch < cfg.epochs:
            stats = self.train_epoch()
            last = self.epoch == cfg.epochs
            if can_eval and (last or (cfg.eval_every and self.epoch % cfg.eval_every == 0)):
                stats.update(self.evaluate())
            self.history.append(stats)
            (self.out_dir / "metrics.json").write_text(json.dumps(self.history, indent=1))
            plot_history(self.history, self.out_dir / "curves.png")
            self.save_checkpoint(self.out_dir / "last.pt")
            if cfg.checkpoint_every and self.epoch % cfg.checkpoint_every == 0:
                self.save_checkpoint(self.out_dir / f"epoch_{self.epoch}.pt")
        return self.history
