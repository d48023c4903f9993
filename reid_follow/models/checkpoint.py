"""Strict checkpoint loading: ImageNet backbones, official TransReID checkpoints, our own files.

Layouts recognised by their key names (nothing is guessed from the file name):
  ``reid_follow``         our training checkpoints: ``{"model": state_dict, "model_name", "model_cfg",
                          "num_classes", "epoch", "optimizer", ...}`` (see :func:`save_checkpoint`;
                          a file with ``input_size`` instead of ``model_cfg`` is rebuilt at that size)
  ``transreid``           official TransReID: ``base.*``, ``b1.*``/``b2.*`` (JPM), ``bottleneck[_i].*``,
                          ``classifier[_i].*``, ``base.sie_embed`` (older: ``base.cv_embed``)
  ``timm_vit``            ImageNet ViT in timm's layout (``patch_embed.proj.weight``, ``blocks.N.*``)
  ``torchvision_resnet``  ImageNet ResNet-50 in torchvision's layout (``conv1.weight``, ``layer1.*``)
A ``module.`` prefix (DataParallel) and a ``state_dict``/``model`` wrapper are removed first.

Every load is strict: a mismatch raises :class:`CheckpointError` naming the missing, unexpected and
mis-shaped keys. The only keys dropped on purpose are named here: ImageNet heads (``fc.*``,
``head.*``, ``pre_logits.*``), and classifier weights when the model was built without one
(``num_classes=0``: an inference model). Position embeddings of a different token grid are
resized in 2-D (logged). Files are read with ``torch.load(weights_only=True)``: no code runs.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Mapping, NamedTuple

import torch
from torch import nn

log = logging.getLogger(__name__)

IMAGENET_HEADS = ("fc.", "head.", "pre_logits.")
# sizes ReID models are trained at, tried when a checkpoint's token grid must be worked out
COMMON_INPUT_SIZES = ((256, 128), (384, 128), (384, 192), (224, 224), (128, 64))


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model; the message says why."""


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The raw object of a checkpoint file (a dict), read safely."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle/zip errors have many types; all mean "not a usable checkpoint"
        raise CheckpointError(f"cannot read checkpoint {path} (corrupt, truncated or not a torch file): "
                              f"{type(e).__name__}: {e}") from e
    if not isinstance(obj, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(obj).__name__}, expected a dict / state dict")
    return obj


def state_dict_of(obj: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The tensor dict inside a checkpoint object, without wrappers or a ``module.`` prefix."""
    for key in ("model", "state_dict"):
        if key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
            break
    names = [k for k in obj if not isinstance(k, str)]
    if names:
        raise CheckpointError(f"checkpoint entry names are not strings: {names[:5]}")
    state = {k.removeprefix("module."): v for k, v in obj.items()}
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"checkpoint entries are not tensors: {bad[:5]}")
    return state


def detect_layout(obj: Mapping[str, Any]) -> str:
    """``reid_follow | transreid | timm_vit | torchvision_resnet`` (see module docstring)."""
    if "model_name" in obj and "model" in obj:
        return "reid_follow"
    keys = set(state_dict_of(obj))
    if any(k.startswith("base.") for k in keys):
        return "transreid"
    if "patch_embed.proj.weight" in keys and any(k.startswith("blocks.0.") for k in keys):
        return "timm_vit"
    if "conv1.weight" in keys and any(k.startswith("layer1.0.") for k in keys):
        return "torchvision_resnet"
    raise CheckpointError("unrecognised checkpoint layout; expected a reid_follow training checkpoint, an official "
                          "TransReID checkpoint (base.*), a timm ViT or a torchvision ResNet-50 state dict; "
                          f"first keys: {sorted(keys)[:8]}")


_TRANSREID_RULES = (
    (re.compile(r"^base\.cv_embed$"), "backbone.sie_embed"),
    (re.compile(r"^base\."), "backbone."),
    (re.compile(r"^b1\."), "jpm_global."),
    (re.compile(r"^b2\."), "jpm_local."),
    (re.compile(r"^bottleneck\."), "neck.bn."),
    (re.compile(r"^classifier\."), "neck.classifier."),
)
_TRANSREID_LOCAL = re.compile(r"^(bottleneck|classifier)_(\d+)\.(.*)$")


def convert_transreid(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Official TransReID names -> ours; a key no rule covers is kept as is (reported as unexpected)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        m = _TRANSREID_LOCAL.match(key)
        if m:
            part = "bn" if m.group(1) == "bottleneck" else "classifier"
            out[f"local_necks.{int(m.group(2)) - 1}.{part}.{m.group(3)}"] = value
            continue
        for pattern, repl in _TRANSREID_RULES:
            if pattern.search(key):
                key = pattern.sub(repl, key, count=1)
                break
        out[key] = value
    return out


class GridSource(NamedTuple):
    """Where a position embedding's token grid comes from: a ReID size and stride, or a square."""

    grid: tuple[int, int]
    input_size: tuple[int, int] | None   # None: square ImageNet grid
    stride: int | None

    def __str__(self) -> str:
        if self.input_size is None:
            return "square ImageNet grid"
        return f"input {self.input_size[0]}x{self.input_size[1]}, stride {self.stride}"


def checkpoint_grid(num_patches: int, patch: int, input_size: tuple[int, int]) -> GridSource:
    """The token grid a checkpoint's position embedding was trained on.

    The configured size and then the common ReID sizes are tried with every stride patch..1 (the
    stride is not stored in TransReID checkpoints: its issue #87), then a square ImageNet grid.
    """
    from .vit import grid_size, square_grid

    sizes = (tuple(input_size),) + tuple(s for s in COMMON_INPUT_SIZES if s != tuple(input_size))
    if num_patches < 1:
        raise CheckpointError(f"a position embedding with {num_patches} patch tokens has no token grid")
    for size in sizes:
        for stride in range(patch, 0, -1):
            g = grid_size(size, patch, stride)
            if g[0] * g[1] == num_patches:
                return GridSource(g, size, stride)
    sq = square_grid(num_patches)
    if sq:
        return GridSource(sq, None, None)
    raise CheckpointError(f"cannot work out the token grid of a position embedding with {num_patches} patch "
                          f"tokens (patch {patch}); tried input sizes {list(sizes)} with strides 1..{patch} and square "
                          "grids — build the model with the input_size and stride it was trained with")


def _fit_pos_embed(model: nn.Module, state: dict[str, torch.Tensor], key: str, trust_square: bool) -> None:
    """Resize ``state[key]`` to the model's token grid when it differs (logged)."""
    from .vit import interpolate_pos_embed, square_grid

    backbone = model.backbone
    target = backbone.pos_embed
    if key not in state or state[key].shape == target.shape:
        return
    pe = state[key]
    _check_pos_embed_shape(key, pe, target)
    n = pe.shape[1] - 1
    source = GridSource(square_grid(n), None, None) if trust_square and square_grid(n) else \
        checkpoint_grid(n, backbone.patch_size, model.spec.input_size)
    new = backbone.patch_embed.grid
    log.warning("resizing position embedding %s from a %dx%d grid (%s) to %dx%d", key, *source.grid, source, *new)
    state[key] = interpolate_pos_embed(pe, source.grid, new)


def _check_pos_embed_shape(key: str, pe: torch.Tensor, target: torch.Tensor) -> None:
    """A resizable position embedding is (1, 1 + n, D) with n >= 1 patch tokens and the model's D."""
    if pe.dim() != 3 or pe.shape[0] != 1 or pe.shape[1] < 2 or pe.shape[2] != target.shape[2]:
        raise CheckpointError(f"{key}: shape {tuple(pe.shape)} cannot be resized to {tuple(target.shape)}")


def _summarise(keys: list[str], limit: int = 12) -> str:
    return ", ".join(keys[:limit]) + (f" ... (+{len(keys) - limit} more)" if len(keys) > limit else "")


def load_state_strict(module: nn.Module, state: Mapping[str, torch.Tensor], what: str,
                      allow_missing: tuple[str, ...] = ()) -> None:
    """Copy ``state`` into ``module``; any missing (except ``allow_missing`` prefixes), unexpected or
    mis-shaped key raises CheckpointError listing all three groups."""
    own = module.state_dict()
    missing = sorted(k for k in own if k not in state and not k.startswith(allow_missing))
    unexpected = sorted(k for k in state if k not in own)
    shapes = sorted(f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                    for k in own if k in state and state[k].shape != own[k].shape)
    if missing or unexpected or shapes:
        raise CheckpointError(f"{what} does not fit {type(module).__name__}:"
                              f"\n  missing keys ({len(missing)}): {_summarise(missing) or '-'}"
                              f"\n  unexpected keys ({len(unexpected)}): {_summarise(unexpected) or '-'}"
                              f"\n  shape mismatches ({len(shapes)}): {_summarise(shapes) or '-'}")
    try:
        module.load_state_dict(state, strict=False)
    except RuntimeError as e:   # e.g. tensors without data (saved from the meta device)
        raise CheckpointError(f"{what}: cannot copy the weights into {type(module).__name__}: {e}") from e


def _drop(state: dict[str, torch.Tensor], prefixes: tuple[str, ...]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state.items() if not k.startswith(prefixes)}


def _drop_classifiers(model: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Classifier weights are training-only; an inference model (num_classes=0) has none."""
    if model.neck.classifier is not None:
        return state
    return {k: v for k, v in state.items() if ".classifier." not in f".{k}"}


def load_pretrained(model: nn.Module, path: str | Path) -> None:
    """ImageNet initialisation of the backbone (RGA/ResNet: torchvision layout; ViT: timm layout)."""
    from .rga import RGANet
    from .vit import TransReID

    obj = read_checkpoint(path)
    layout = detect_layout(obj)
    state = _drop(state_dict_of(obj), IMAGENET_HEADS)
    if isinstance(model, RGANet):
        if layout != "torchvision_resnet":
            raise CheckpointError(f"{path}: {model.spec.name} needs a torchvision ResNet-50 state dict, got {layout}")
        load_state_strict(model.backbone, state, f"ImageNet checkpoint {path}")
    elif isinstance(model, TransReID):
        if layout != "timm_vit":
            raise CheckpointError(f"{path}: {model.spec.name} needs a timm ViT state dict, got {layout}")
        _fit_pos_embed(model, state, "pos_embed", trust_square=True)
        load_state_strict(model.backbone, state, f"ImageNet checkpoint {path}", allow_missing=("sie_embed",))
        model.copy_last_block_to_jpm()
    else:
        raise TypeError(f"no ImageNet loader for {type(model).__name__}")


def load_weights(model: nn.Module, path: str | Path) -> None:
    """All weights of a trained ReID model (our checkpoint or an official TransReID one), strictly."""
    obj = read_checkpoint(path)
    layout = detect_layout(obj)
    if layout not in ("reid_follow", "transreid"):
        raise CheckpointError(f"{path} is an ImageNet {layout} state dict, not a ReID model; "
                              "use load_pretrained() for backbone initialisation")
    state = state_dict_of(obj)
    if layout == "transreid":
        state = convert_transreid(state)
        if hasattr(model, "backbone") and hasattr(model.backbone, "pos_embed"):
            key = "backbone.pos_embed"
            if key in state and state[key].shape != model.backbone.pos_embed.shape:
                _check_pos_embed_shape(key, state[key], model.backbone.pos_embed)
                _check_transreid_stride(model, state[key].shape[1] - 1, path)
                _fit_pos_embed(model, state, key, trust_square=False)
    elif obj["model_name"] != model.spec.name:
        raise CheckpointError(f"{path} holds a {obj['model_name']!r} model, not {model.spec.name!r}")
    load_state_strict(model, _drop_classifiers(model, state), f"checkpoint {path}")


def _check_transreid_stride(model: nn.Module, num_patches: int, path: str | Path) -> None:
    """A TransReID checkpoint trained at our input size with another stride cannot be resized
    meaningfully: say which stride to build with (TransReID issue #87)."""
    bb = model.backbone
    source = checkpoint_grid(num_patches, bb.patch_size, model.spec.input_size)
    if source.input_size == tuple(model.spec.input_size) and source.stride != bb.stride:
        raise CheckpointError(f"{path}: position embedding has {num_patches} patch tokens = {source}, but the "
                              f"model was built with stride {bb.stride}; build it with stride={source.stride}")


def transreid_config(state: Mapping[str, torch.Tensor], input_size: tuple[int, int]) -> dict[str, Any]:
    """Model settings implied by an official TransReID state dict: stride, JPM, SIE size, size.

    The SIE table's length is read as a camera count; a camera x view table needs ``camera_num``
    and ``view_num`` passed explicitly (their product is then checked against the table).
    """
    pe = state.get("base.pos_embed")
    proj = state.get("base.patch_embed.proj.weight")
    if pe is None or proj is None:
        raise CheckpointError("TransReID checkpoint lacks base.pos_embed or base.patch_embed.proj.weight")
    if pe.dim() != 3 or proj.dim() != 4:
        raise CheckpointError(f"TransReID checkpoint: base.pos_embed {tuple(pe.shape)} must be (1, tokens, D) and "
                              f"base.patch_embed.proj.weight {tuple(proj.shape)} must be (D, 3, patch, patch)")
    patch = int(proj.shape[-1])
    source = checkpoint_grid(pe.shape[1] - 1, patch, input_size)
    if source.input_size is None:
        raise CheckpointError(f"TransReID checkpoint's position embedding is a square {source.grid} grid; "
                              "cannot tell the ReID input size and stride it was trained with")
    cfg: dict[str, Any] = {"patch_size": patch, "stride": source.stride, "input_size": source.input_size,
                           "embed_dim": int(proj.shape[0]),
                           "depth": len({k.split(".")[2] for k in state if k.startswith("base.blocks.")}),
                           "jpm": any(k.startswith("b2.") for k in state)}
    sie = state.get("base.sie_embed", state.get("base.cv_embed"))
    if sie is not None and sie.dim() >= 1:
        cfg["camera_num"] = int(sie.shape[0])
    if "base.blocks.0.attn.qkv.bias" not in state:
        cfg["qkv_bias"] = False
    return cfg


def save_checkpoint(path: str | Path, model: nn.Module, model_cfg: Mapping[str, Any], epoch: int,
                    optimizer: torch.optim.Optimizer | None = None, **extra: Any) -> None:
    """Write a ``reid_follow`` checkpoint that :func:`load_inference_model` rebuilds by itself.

    ``model_cfg`` are the ``build_model`` keyword arguments (plain values only: the file is read
    back with ``weights_only=True``).
    """
    obj = {"model": model.state_dict(), "model_name": model.spec.name, "model_cfg": dict(model_cfg),
           "num_classes": 0 if model.neck.classifier is None else model.neck.classifier.out_features,
           "epoch": int(epoch), **extra}
    if optimizer is not None:
        obj["optimizer"] = optimizer.state_dict()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path)


def load_inference_model(name: str, path: str | Path, **cfg: Any) -> nn.Module:
    """An eval-mode model ``name`` with the weights of ``path``, rebuilt from what the file says.

    Our checkpoints carry their ``model_cfg``; TransReID ones imply stride, JPM and SIE size;
    ImageNet state dicts give a backbone-only model (BN-neck at identity). ``cfg`` overrides.
    """
    from . import build_model

    obj = read_checkpoint(path)
    layout = detect_layout(obj)
    if layout == "reid_follow":
        if obj["model_name"] != name:
            raise CheckpointError(f"{path} holds a {obj['model_name']!r} model, not {name!r}")
        saved_cfg = obj.get("model_cfg", {"input_size": obj["input_size"]} if "input_size" in obj else {})
        if not isinstance(saved_cfg, Mapping):
            raise CheckpointError(f"{path}: model_cfg must be a dict of build_model arguments, got {saved_cfg!r}")
        model = _build_saved(name, {**saved_cfg, **cfg}, path)
        load_weights(model, path)
    elif layout == "transreid":
        size = tuple(cfg.get("input_size", COMMON_INPUT_SIZES[0]))
        model = _build_saved(name, {**transreid_config(state_dict_of(obj), size), **cfg}, path)
        load_weights(model, path)
    else:
        model = build_model(name, **cfg)
        load_pretrained(model, path)
    return model.eval()


def _build_saved(name: str, cfg: dict[str, Any], path: str | Path) -> nn.Module:
    """``build_model`` with settings read from a checkpoint: settings it rejects are a CheckpointError."""
    from . import build_model

    try:
        return build_model(name, **cfg)
    except (TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path}: cannot build {name!r} with the checkpoint's settings {cfg}: "
                              f"{type(e).__name__}: {e}") from e
