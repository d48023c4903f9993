"""ReID model registry: ``build_model(name, num_classes=0, **cfg)`` -> nn.Module with a ``.spec``.

One registry (torchreid's shape): a dict from name to builder, filled by :func:`register_model`
in the model modules. Those modules (and torch) are imported only when a model is listed or built,
so ``import reid_follow.models`` stays cheap for code that only needs the names.

Every model carries ``model.spec`` (:class:`~reid_follow.models.common.ModelSpec`: input size,
mean/std, feature dimension); in ``eval()`` it returns the (B, feat_dim) inference embedding, in
``train()`` a :class:`~reid_follow.models.common.TrainOutput`.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

# modules whose import registers models (small_cnn lives with the trainer that made it)
_MODEL_MODULES = ("reid_follow.models.rga", "reid_follow.models.vit", "reid_follow.train.small_models")
_BUILDERS: dict[str, Callable[..., Any]] = {}


def register_model(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register ``builder(num_classes=0, **cfg) -> nn.Module`` under ``name``."""
    def wrap(builder: Callable[..., Any]) -> Callable[..., Any]:
        if name in _BUILDERS and _BUILDERS[name] is not builder:
            raise ValueError(f"model name {name!r} is already registered")
        _BUILDERS[name] = builder
        return builder
    return wrap


def _import_models() -> None:
    for module in _MODEL_MODULES:
        importlib.import_module(module)


def list_models() -> list[str]:
    """Names accepted by :func:`build_model`, sorted."""
    _import_models()
    return sorted(_BUILDERS)


def build_model(name: str, num_classes: int = 0, **cfg: Any):
    """A fresh (randomly initialised) model; ``num_classes=0`` builds it without a classifier."""
    _import_models()
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; valid names: {', '.join(sorted(_BUILDERS))}")
    if num_classes < 0:
        raise ValueError(f"num_classes must be >= 0, got {num_classes}")
    return _BUILDERS[name](num_classes=num_classes, **cfg)


__all__ = ["build_model", "list_models", "register_model"]
