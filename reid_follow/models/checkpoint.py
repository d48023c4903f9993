"""Strict checkpoint loading: ImageNet backbones, official TransReID / RGA checkpoints, our own files.

Layouts recognised by their key names (nothing is guessed from the file name):
  ``reid_follow``         our training checkpoints: ``{"model": state_dict, "model_name", "model_cfg",
                          "num_classes", "epoch", "optimizer", ...}`` (see :func:`save_checkpoint`;
                          a file with ``input_size`` instead of ``model_cfg`` is rebuilt at that size)
  ``transreid``           official TransReID: ``base.*``, ``b1.*``/``b2.*`` (JPM), ``bottleneck[_i].*``,
                          ``classifier[_i].*``, ``base.sie_embed`` (older: ``base.cv_embed``), and the
                          unused ImageNet head ``base.fc.*`` every official file carries
  ``rga``                 official RGA (``ResNet50_RGA_Model``): ``backbone.conv1/bn1/layerN.*``,
                          ``backbone.rga_attN.*`` (``W_spatial``/``W_channel`` as flat Sequentials
                          ``.0, .1, .3, .4``), ``feat_bn.*``, ``cls.*``
  ``timm_vit``            ImageNet ViT in timm's layout (``patch_embed.proj.weight``, ``blocks.N.*``),
                          also DeiT distilled (``dist_token``, ``head_dist.*``, 2 + N position tokens)
  ``torchvision_resnet``  ImageNet ResNet-50 in torchvision's layout (``conv1.weight``, ``layer1.*``)
Training scripts wrap the weights: a ``state_dict``/``model`` entry (next to ``epoch``,
``optimizer``...) and a ``module.`` prefix (DataParallel) are removed first.

Every load is strict: a mismatch raises :class:`CheckpointError` naming the missing, unexpected and
mis-shaped keys. The only keys dropped on purpose are named here: ImageNet heads (``fc.*``,
``head.*``, ``head_dist.*``, ``pre_logits.*``, TransReID's ``base.fc.*``), DeiT's distillation token,
and classifier weights when the model was built without one (``num_classes=0``: an inference
model). Position embeddings of a different token grid are resized in 2-D (logged). What a file
cannot tell (the SIE table's camera x view split, JPM shift / shuffle, λ) are ``build_model``
settings with the official defaults, named in the log and in errors. Files are read with
``torch.load(weights_only=True)``: no code runs.
"""
from __future__ import annotations

import enum
import logging
import re
from pathlib import Path
from typing import Any, Mapping, NamedTuple

import torch
from torch import nn

log = logging.getLogger(__name__)

IMAGENET_HEADS = ("fc.", "head.", "head_dist.", "pre_logits.")
TRANSREID_IMAGENET_HEAD = ("base.fc.",)   # the official model builds a 1000-class head it never uses
# sizes ReID models are trained at, tried when a checkpoint's token grid must be worked out
COMMON_INPUT_SIZES = ((256, 128), (384, 128), (384, 192), (224, 224), (128, 64))


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model; the message says why."""


class Layout(enum.StrEnum):
    """Checkpoint layouts :func:`detect_layout` recognises (see the module docstring)."""

    REID_FOLLOW = "reid_follow"
    TRANSREID = "transreid"
    RGA = "rga"
    TIMM_VIT = "timm_vit"
    TORCHVISION_RESNET = "torchvision_resnet"


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
    """The tensor dict inside a checkpoint object, without wrappers or a ``module.`` prefix.

    Wrappers nest (``{"state_dict": {"model": ...}}`` from some scripts): unwrapped until the entries
    are no longer a single ``model``/``state_dict`` dict.
    """
    while True:
        inner = next((obj[key] for key in ("model", "state_dict") if isinstance(obj.get(key), Mapping)), None)
        if inner is None:
            break
        obj = inner
    names = [k for k in obj if not isinstance(k, str)]
    if names:
        raise CheckpointError(f"checkpoint entry names are not strings: {names[:5]}")
    state = {k.removeprefix("module."): v for k, v in obj.items()}
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"checkpoint entries are not tensors: {bad[:5]}")
    return state


def detect_layout(obj: Mapping[str, Any]) -> Layout:
    """Which :class:`Layout` a checkpoint object is in (see module docstring)."""
    if "model_name" in obj and "model" in obj:
        return Layout.REID_FOLLOW
    keys = set(state_dict_of(obj))
    if any(k.startswith("base.") for k in keys):
        return Layout.TRANSREID
    if "feat_bn.weight" in keys and "backbone.conv1.weight" in keys:
        return Layout.RGA
    if "patch_embed.proj.weight" in keys and any(k.startswith("blocks.0.") for k in keys):
        return Layout.TIMM_VIT
    if "conv1.weight" in keys and any(k.startswith("layer1.0.") for k in keys):
        return Layout.TORCHVISION_RESNET
    raise CheckpointError("unrecognised checkpoint layout; expected a reid_follow training checkpoint, an official "
                          "TransReID checkpoint (base.*), an official RGA checkpoint (backbone.*, feat_bn.*), "
                          f"a timm ViT or a torchvision ResNet-50 state dict; first keys: {sorted(keys)[:8]}")


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


_RGA_MODULE = re.compile(r"^backbone\.rga_att(\d+)\.(.*)$")
_RGA_W = re.compile(r"^(W_spatial|W_channel)\.([0-9]+)\.(.*)$")
# the official W_* are flat Sequential(conv, bn, relu, conv, bn); ours nest (conv, bn, relu), (conv, bn)
_RGA_W_INDEX = {"0": "0.0", "1": "0.1", "3": "1.0", "4": "1.1"}
_RGA_RULES = (("feat_bn.", "neck.bn."), ("cls.", "neck.classifier."))


def convert_rga(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Official RGA names -> ours; a key no rule covers is kept as is (reported as unexpected)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        m = _RGA_MODULE.match(key)
        if m:
            rest = m.group(2)
            w = _RGA_W.match(rest)
            if w and w.group(2) in _RGA_W_INDEX:
                rest = f"{w.group(1)}.{_RGA_W_INDEX[w.group(2)]}.{w.group(3)}"
            key = f"rga.{int(m.group(1)) - 1}.{rest}"
        else:
            for theirs, ours in _RGA_RULES:
                if key.startswith(theirs):
                    key = ours + key[len(theirs):]
                    break
        out[key] = value
    return out


def rga_model_name(state: Mapping[str, torch.Tensor]) -> str:
    """The registry name of an official RGA file's variant (spatial and/or channel modules)."""
    spatial = any(".W_spatial." in k for k in state)
    channel = any(".W_channel." in k for k in state)
    return {(True, True): "rga_sc_r50", (True, False): "rga_s_r50", (False, True): "rga_c_r50"}.get(
        (spatial, channel), "r50_baseline")


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


def drop_distillation_token(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """DeiT distilled weights without their distillation token: ``dist_token`` removed and its
    position (token 1, after the class token) cut from ``pos_embed``, as TransReID does."""
    if "dist_token" not in state:
        return state
    state = {k: v for k, v in state.items() if k != "dist_token"}
    pe = state.get("pos_embed")
    if pe is not None:
        if pe.dim() != 3 or pe.shape[1] < 3:
            raise CheckpointError(f"DeiT distilled pos_embed {tuple(pe.shape)} must be (1, 2 + patches, D)")
        state["pos_embed"] = torch.cat([pe[:, :1], pe[:, 2:]], dim=1)
        log.info("DeiT distilled weights: distillation token and its position embedding dropped")
    return state


def load_pretrained(model: nn.Module, path: str | Path) -> None:
    """ImageNet initialisation of the backbone (RGA/ResNet: torchvision layout; ViT: timm layout)."""
    from .rga import RGANet
    from .vit import TransReID

    obj = read_checkpoint(path)
    layout = detect_layout(obj)
    state = _drop(state_dict_of(obj), IMAGENET_HEADS)
    if isinstance(model, RGANet):
        if layout != Layout.TORCHVISION_RESNET:
            raise CheckpointError(f"{path}: {model.spec.name} needs a torchvision ResNet-50 state dict, got {layout}")
        load_state_strict(model.backbone, state, f"ImageNet checkpoint {path}")
    elif isinstance(model, TransReID):
        if layout != Layout.TIMM_VIT:
            raise CheckpointError(f"{path}: {model.spec.name} needs a timm ViT state dict, got {layout}")
        state = drop_distillation_token(state)
        _fit_pos_embed(model, state, "pos_embed", trust_square=True)
        load_state_strict(model.backbone, state, f"ImageNet checkpoint {path}", allow_missing=("sie_embed",))
        model.copy_last_block_to_jpm()
    else:
        raise TypeError(f"no ImageNet loader for {type(model).__name__}")


def load_weights(model: nn.Module, path: str | Path) -> None:
    """All weights of a trained ReID model (ours, official TransReID or official RGA), strictly."""
    obj = read_checkpoint(path)
    layout = detect_layout(obj)
    if layout in (Layout.TIMM_VIT, Layout.TORCHVISION_RESNET):
        raise CheckpointError(f"{path} is an ImageNet {layout} state dict, not a ReID model; "
                              "use load_pretrained() for backbone initialisation")
    state = state_dict_of(obj)
    if layout == Layout.RGA:
        official = rga_model_name(state)
        if official != model.spec.name:
            raise CheckpointError(f"{path} is an official RGA checkpoint of the {official!r} variant, "
                                  f"not {model.spec.name!r}")
        state = convert_rga(state)
    elif layout == Layout.TRANSREID:
        state = convert_transreid(_drop(state, TRANSREID_IMAGENET_HEAD))
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


def transreid_config(state: Mapping[str, torch.Tensor], input_size: tuple[int, int],
                     camera_num: int | None = None, view_num: int | None = None) -> dict[str, Any]:
    """Model settings implied by an official TransReID state dict: stride, JPM (k), SIE size, size.

    The file holds one SIE table of ``cameras x views`` rows (or cameras, or views) and cannot tell
    which: by default it is read as a camera table (``camera_num`` = rows, ``view_num=0``), which
    gives the same features as long as the camera index fed in is the table row. Pass ``view_num``
    (and/or ``camera_num``) to feed official camera and view labels separately; their product is
    checked against the table.
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
    jpm = any(k.startswith("b2.") for k in state)
    cfg: dict[str, Any] = {"patch_size": patch, "stride": source.stride, "input_size": source.input_size,
                           "embed_dim": int(proj.shape[0]),
                           "depth": len({k.split(".")[2] for k in state if k.startswith("base.blocks.")}),
                           "jpm": jpm}
    if jpm:
        cfg["k"] = len({k.split(".")[0] for k in state if re.match(r"bottleneck_\d+\.", k)})
    sie = state.get("base.sie_embed", state.get("base.cv_embed"))
    if sie is not None and sie.dim() >= 1:
        cfg.update(sie_split(int(sie.shape[0]), camera_num, view_num))
    elif camera_num or view_num:
        raise CheckpointError(f"camera_num={camera_num}, view_num={view_num} given, but the TransReID checkpoint "
                              "has no SIE table (base.sie_embed)")
    if "base.blocks.0.attn.qkv.bias" not in state:
        cfg["qkv_bias"] = False
    log.info("official TransReID checkpoint: stride %d at %dx%d, JPM %s, SIE %s; not in the file, official "
             "defaults unless given: shift_num=5, shuffle_groups=2 (JPM), sie_coe=3.0, camera x view split "
             "(view_num)", cfg["stride"], *cfg["input_size"], jpm,
             {k: cfg[k] for k in ("camera_num", "view_num") if k in cfg} or "none")
    return cfg


def sie_split(rows: int, camera_num: int | None, view_num: int | None) -> dict[str, int]:
    """``camera_num`` / ``view_num`` for an SIE table of ``rows``: a camera table unless told otherwise."""
    if camera_num is None and view_num is None:
        return {"camera_num": rows, "view_num": 0}
    if camera_num is None:
        camera_num = rows // view_num if view_num and rows % view_num == 0 and rows != view_num else 0
    view_num = view_num or 0
    if max(camera_num, 1) * max(view_num, 1) != rows or (camera_num <= 0 and view_num <= 0):
        raise CheckpointError(f"the SIE table has {rows} rows, which camera_num={camera_num} x view_num={view_num} "
                              f"does not give; defaults: camera_num={rows}, view_num=0 (a camera table); "
                              "pass view_num=V for a camera x view (or view) table")
    return {"camera_num": camera_num, "view_num": view_num}


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

    Our checkpoints carry their ``model_cfg``; TransReID ones imply stride, JPM and SIE size
    (``camera_num`` / ``view_num`` in ``cfg`` split the SIE table, see :func:`transreid_config`);
    official RGA ones are built at the official 256x128; ImageNet state dicts give a backbone-only
    model (BN-neck at identity). Other ``cfg`` entries (e.g. ``neck_feat``) override.
    """
    from . import build_model

    obj = read_checkpoint(path)
    layout = detect_layout(obj)
    if layout == Layout.REID_FOLLOW:
        if obj["model_name"] != name:
            raise CheckpointError(f"{path} holds a {obj['model_name']!r} model, not {name!r}")
        saved_cfg = obj.get("model_cfg", {"input_size": obj["input_size"]} if "input_size" in obj else {})
        if not isinstance(saved_cfg, Mapping):
            raise CheckpointError(f"{path}: model_cfg must be a dict of build_model arguments, got {saved_cfg!r}")
        model = _build_saved(name, {**saved_cfg, **cfg}, path)
        load_weights(model, path)
    elif layout == Layout.TRANSREID:
        size = tuple(cfg.get("input_size", COMMON_INPUT_SIZES[0]))
        split = {k: cfg.pop(k) for k in ("camera_num", "view_num") if k in cfg}
        model = _build_saved(name, {**transreid_config(state_dict_of(obj), size, **split), **cfg}, path)
        load_weights(model, path)
    elif layout == Layout.RGA:
        model = _build_saved(name, cfg, path)
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
