"""Training parameters, one documented dataclass tree (CLI flags are generated from it)."""
from __future__ import annotations

from dataclasses import dataclass

from ..config_base import param, section
from ..data.config import DataConfig
from ..data.transforms import AugmentConfig
from .losses import LossConfig

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("cosine", "step")


@dataclass
class OptimConfig:
    """Optimiser and learning-rate schedule (per iteration: linear warm-up, then cosine or steps)."""

    optimizer: str = param("adam", "sgd | adam")
    lr: float = param(3.5e-4, "base learning rate (3.5e-4 for Adam as in the strong baseline; ~0.008 for SGD, TransReID)")
    weight_decay: float = param(5e-4, "L2 weight decay (not applied to biases and norm layers)")
    momentum: float = param(0.9, "SGD momentum")
    warmup_epochs: float = param(2.0, "epochs of linear warm-up from warmup_factor·lr to lr")
    warmup_factor: float = param(0.01, "learning-rate factor at the first iteration")
    schedule: str = param("cosine", "after warm-up: cosine (to 0 at the last epoch) | step")
    steps: list[int] = param([40, 70], "step schedule: epochs at which the rate is multiplied by gamma")
    gamma: float = param(0.1, "step schedule: factor per step")
    grad_clip: float = param(0.0, "clip the gradient norm to this value (0: no clipping)")
    center_lr: float = param(0.5, "learning rate of the center-loss centres (their own parameter group)")

    def validate(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.lr <= 0 or self.warmup_epochs < 0 or not 0 < self.warmup_factor <= 1:
            raise ValueError(f"need lr > 0, warmup_epochs >= 0, 0 < warmup_factor <= 1; got {self}")


@dataclass
class TrainConfig:
    """Everything ``reid-follow train`` does, with its defaults."""

    model: str = param("vit_tiny_transreid", "registered model name (reid_follow.models.list_models())")
    input_size: list[int] = param([], "override the model's input size [H, W]; empty: the model's own")
    sie_camera: bool = param(False, "TransReID side information over cameras: one SIE vector per camera id of the "
                             "data (train, query and gallery), each image's camera fed in training and evaluation")
    epochs: int = param(60, "training epochs")
    batches_per_epoch: int = param(0, "PK batches per epoch (0: one pass over the training identities)")
    p: int = param(16, "identities per batch (P)")
    k: int = param(4, "images per identity in a batch (K)")
    device: str = param("auto", "auto | cpu | cuda[:i]")
    amp: bool = param(True, "mixed precision (fp16 autocast + grad scaling); used on CUDA only")
    seed: int = param(0, "seed of weights, sampling and augmentation")
    num_workers: int = param(0, "data-loader worker processes")
    eval_every: int = param(10, "evaluate on query/gallery every n epochs and after the last (0: only after the last)")
    checkpoint_every: int = param(0, "also keep epoch_<n>.pt every n epochs (0: only last.pt)")
    eval_metric: str = param("cosine", "distance for evaluation: cosine | euclidean")
    eval_flip: bool = param(False, "average each embedding with its mirror image's at evaluation")
    data: DataConfig = section(DataConfig, "training data (query/gallery of the same dataset are used for evaluation)")
    loss: LossConfig = section(LossConfig, "loss weights and settings")
    augment: AugmentConfig = section(AugmentConfig, "training augmentation")
    optim: OptimConfig = section(OptimConfig, "optimiser and schedule")

    def validate(self) -> None:
        if self.epochs < 1 or self.p < 2 or self.k < 2 or self.batches_per_epoch < 0 or self.eval_every < 0 \
                or self.checkpoint_every < 0:
            raise ValueError(f"need epochs >= 1, p >= 2, k >= 2 (triplets need positives), "
                             f"batches_per_epoch >= 0, eval_every >= 0; got epochs={self.epochs}, p={self.p}, "
                             f"k={self.k}, batches_per_epoch={self.batches_per_epoch}, eval_every={self.eval_every}")
        if self.input_size and (len(self.input_size) != 2 or min(self.input_size) < 1):
            raise ValueError(f"input_size must be [H, W], got {self.input_size}")
        if self.eval_metric not in ("cosine", "euclidean"):
            raise ValueError(f"eval_metric must be cosine or euclidean, got {self.eval_metric!r}")
        self.loss.validate()
        self.augment.validate()
        self.optim.validate()
