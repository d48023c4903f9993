"""Property-based bad-input tests of the three loaders: ROS parameter files, checkpoints, ONNX models.

Each loader either returns a valid result or raises its own clear error (ConfigError, CheckpointError,
ValueError from the ONNX backend) with a message that says what is wrong; never another exception type.
Everything is built here (no downloads): parameter files from random structures and raw bytes,
checkpoints from a small model's state dict, ONNX graphs with ``onnx.helper``.
"""
from __future__ import annotations

import io
import json
import math
import os
import typing
from dataclasses import fields, is_dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from reid_follow.config import NODE_CONFIGS, StackConfig, load_stack
from reid_follow.config_base import ConfigError, flatten

FIXTURE_OK = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# --------------------------------------------------------------------------------------------
# 1. ROS parameter files: load_stack(path, overrides)


def _leaf_types(cls: type, prefix: str = "") -> dict[str, typing.Any]:
    """``{dotted_name: type hint}`` of every leaf parameter of a config dataclass."""
    out: dict[str, typing.Any] = {}
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        if is_dataclass(hints[f.name]):
            out.update(_leaf_types(hints[f.name], f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = hints[f.name]
    return out


TYPES = {node: _leaf_types(cls) for node, cls in NODE_CONFIGS.items()}
DEFAULTS = {node: flatten(cls()) for node, cls in NODE_CONFIGS.items()}
BAD_NAMES = ["nonexistent", "follow.nonexistent", "follow.tracking.nope", "pose.nope", "tracking.min_hits",
             "Follow.gallery_size", "follow.tracking", "pose", "fx.y", "ros__parameters", "1"]

junk_value = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-3, 3),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0]),
    st.text(max_size=8), st.sampled_from(["true", "no", "1", "0.5", "nan", "inf", "[1, 2", "[0,0,0,0,0,0,1]", "{a: 1}",
                                          "hog", "onnx:/m.onnx", "center", "", " "]),
    st.lists(st.one_of(st.floats(allow_nan=True), st.integers(-2, 2), st.text(max_size=2), st.none()), max_size=8))


def _plausible(node: str, name: str) -> st.SearchStrategy:
    """Values of the declared type, often in range, so that valid files are generated too."""
    hint, default = TYPES[node][name], DEFAULTS[node][name]
    if hint is bool:
        return st.one_of(st.booleans(), st.sampled_from(["true", "False", "yes", "0"]))
    if hint is int:
        return st.one_of(st.just(default), st.integers(1, 100), st.integers(1, 9).map(str))
    if hint is float:
        return st.one_of(st.just(default), st.floats(0.0, 1.0), st.integers(1, 5))
    if hint is str:
        return st.just(default)
    unit = st.lists(st.floats(-1, 1), min_size=4, max_size=4).map(lambda q: [float(v) for v in np.asarray(q) + [0, 0, 0, 2]])
    return st.one_of(st.just(default), st.tuples(st.lists(st.floats(-5, 5), min_size=3, max_size=3), unit).map(
        lambda tq: tq[0] + [float(v) for v in np.asarray(tq[1]) / np.linalg.norm(tq[1])]))


@st.composite
def node_params(draw, node: str) -> dict[str, typing.Any]:
    """Flat ``{dotted_name: value}`` with valid names (plausible or junk values) and some invalid names."""
    names = draw(st.lists(st.sampled_from(sorted(TYPES[node])), unique=True, max_size=5))
    out = {n: draw(junk_value if draw(st.integers(0, 5)) == 0 else _plausible(node, n)) for n in names}
    if draw(st.integers(0, 3)) == 0:
        out.setdefault(draw(st.sampled_from(BAD_NAMES)), draw(junk_value))
    return out


def _nest(flat: dict[str, typing.Any], nested: bool) -> dict[str, typing.Any]:
    """Dotted names as nested mappings (how ROS parameter files are usually written) or kept flat."""
    if not nested:
        return dict(flat)
    out: dict[str, typing.Any] = {}
    for name, value in flat.items():
        *path, leaf = name.split(".")
        d = out
        for part in path:
            d = d.setdefault(part, {})
            if not isinstance(d, dict):
                break
        else:
            if not isinstance(d.get(leaf), dict):
                d[leaf] = value
    return out


def _flatten_names(d: dict, prefix: str = "") -> set[str]:
    names: set[str] = set()
    for k, v in d.items():
        names |= _flatten_names(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}"}
    return names


def _check_stack(stack: StackConfig) -> None:
    """Every value finite and of its declared type."""
    assert isinstance(stack, StackConfig)
    for node, types in TYPES.items():
        values = flatten(getattr(stack, node))
        assert set(values) == set(types)
        for name, hint in types.items():
            value = values[name]
            if hint is bool:
                assert type(value) is bool, (name, value)
            elif hint is int:
                assert type(value) is int, (name, value)
            elif hint is float:
                assert type(value) is float and math.isfinite(value), (name, value)
            elif hint is str:
                assert type(value) is str, (name, value)
            else:
                assert isinstance(value, list) and all(type(v) is float and math.isfinite(v) for v in value), (name, value)


def _expected(hint: typing.Any, value: typing.Any) -> typing.Any:
    """The value load_stack must produce for an unambiguous input, else a sentinel (not checked)."""
    if hint is bool and type(value) is bool or hint is int and type(value) is int or hint is str and type(value) is str:
        return value
    if hint is float and type(value) in (int, float):
        return float(value)
    if typing.get_origin(hint) is list and isinstance(value, list) and all(type(v) is float for v in value):
        return value
    return ...


def _assert_config_error(e: ConfigError, path: Path, overrides: list[str]) -> None:
    msg = str(e)
    assert msg.strip()
    if not msg.startswith("override"):
        assert str(path) in msg, msg


override_item = st.one_of(
    st.tuples(st.sampled_from(["follower", "detector", "planner", ""]),
              st.sampled_from(sorted(TYPES["follower"]) + ["score_threshold", "nope"]),
              st.sampled_from(["1", "0.5", "true", "[1, 2", "'x'", "", "nan", "9" * 5000, "[0, 0, 0, 0, 0, 0, 1]",
                               "{a: 1}", "&a [*a]", "!!python/object:os.system x", "\t"]))
    .map(lambda t: f"{t[0]}.{t[1]}={t[2]}"),
    st.text(max_size=12))


@settings(max_examples=120, **FIXTURE_OK)
@given(nodes=st.tuples(st.lists(st.sampled_from(["detector", "follower"]), unique=True, max_size=2),
                       st.sampled_from([[]] * 4 + [["planner"], ["Follower"], [""], ["ros__parameters"]]))
       .map(lambda t: t[0] + t[1]),
       data=st.data(), nested=st.booleans(), body_kind=st.sampled_from(["ok"] * 6 + ["none", "list", "empty"]),
       overrides=st.one_of(st.just([]), st.lists(override_item, max_size=2)))
@example(nodes=[], data=None, nested=False, body_kind="ok", overrides=["follower.pose.base_from_camera=[1, 2"])
@example(nodes=[], data=None, nested=False, body_kind="ok", overrides=["follower.fx=" + "9" * 400])
@example(nodes=[], data=None, nested=False, body_kind="ok", overrides=["follower.fx=" + "9" * 5000])
def test_parameter_file(tmp_path, nodes, data, nested, body_kind, overrides):
    doc: dict[str, typing.Any] = {}
    flat: dict[str, dict[str, typing.Any]] = {}
    for node in nodes:
        flat[node] = data.draw(node_params(node if node in NODE_CONFIGS else "follower"), label=node)
        params = _nest(flat[node], nested)
        doc[node] = {"ok": {"ros__parameters": params}, "none": None, "list": [params],
                     "empty": {"ros__parameters": None}}[body_kind]
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(doc))
    # what must fail, whatever else is in the file
    must_fail = any(n not in NODE_CONFIGS for n in doc) or (doc and body_kind in ("none", "list", "empty")) or any(
        name not in TYPES[n] for n in doc if n in NODE_CONFIGS and body_kind == "ok"
        for name in _flatten_names(_nest(flat[n], nested)))
    try:
        stack = load_stack(path, overrides)
    except ConfigError as e:
        event("ConfigError")
        _assert_config_error(e, path, overrides)
        return
    event("loaded")
    assert not must_fail, (doc, overrides)
    _check_stack(stack)
    if not overrides:          # the file's values are used, coerced to the declared type
        for node in doc:
            got = flatten(getattr(stack, node))
            written = _flatten_names(_nest(flat[node], nested))   # nesting drops a name shadowed by a group
            for name, value in flat[node].items():
                if name not in written:
                    continue
                want = _expected(TYPES[node][name], value)
                if want is not ...:
                    assert got[name] == want, (node, name, value, got[name])


fragment = st.sampled_from([
    "follower:", "detector:", "  ros__parameters:", "    fx: 1", "    fx: .nan", "    fx: " + "9" * 400,
    "    status_period_s: " + "9" * 5000, "    follow:", "      tracking:", "        min_hits: 3",
    "      gallery_size: 0", "    pose:", "      base_from_camera: '[1, 2'", "      base_from_camera: [0,0,0,0,0,0,1]",
    "    device: !!binary aGVsbG8=", "    device: 2001-01-01", "!!python/object/apply:os.system ['true']",
    "[" * 2000, "- a", "? [a]\n: 1", "a: &a [*a]", "  - x", "\t", ":", "'", '"', "%YAML 1.1", "---", "...", "#",
    "follower: &n\n  ros__parameters:\n    follow: *n", "\x00", "\ufeff", "key: [1, {b: 2}]"])


@settings(max_examples=150, **FIXTURE_OK)
@given(content=st.one_of(st.binary(max_size=300), st.text(max_size=200),
                         st.lists(fragment, max_size=8).map("\n".join).map(str.encode)))
@example(content=b"\xff\xfe\x00garbage")                                           # not UTF-8
@example(content=b"follower:\n  ros__parameters:\n    fx: " + b"9" * 400)         # int too large for a float
@example(content=b"follower:\n  ros__parameters:\n    fx: " + b"9" * 5000)        # int beyond Python's digit limit
@example(content=b"follower:\n  ros__parameters:\n    pose:\n      base_from_camera: '[1, 2'")  # list string, bad YAML
@example(content=b"[" * 3000)                                                      # nesting deeper than the recursion limit
@example(content=b"follower: &n\n  ros__parameters:\n    follow: *n")             # self-referencing alias
def test_parameter_file_raw_bytes(tmp_path, content):
    path = tmp_path / "params.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
    try:
        stack = load_stack(path)
    except ConfigError as e:
        event("ConfigError")
        _assert_config_error(e, path, [])
        return
    event("loaded")
    _check_stack(stack)


def test_missing_parameter_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read parameter file") as e:
        load_stack(tmp_path / "nope.yaml")
    assert str(tmp_path / "nope.yaml") in str(e.value)


# --------------------------------------------------------------------------------------------
# 2. Checkpoints: load_weights / load_pretrained / load_inference_model

torch = pytest.importorskip("torch")
from reid_follow.models import build_model  # noqa: E402
from reid_follow.models.checkpoint import (CheckpointError, load_inference_model, load_pretrained,  # noqa: E402
                                           load_weights, save_checkpoint)

torch.set_num_threads(1)
CNN_CFG = {"width": 4, "input_size": [32, 16]}
VIT_CFG = {"depth": 1, "embed_dim": 24, "heads": 2}         # 128x64 input, 8x4 token grid, 33 tokens


def _randomised_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {k: (torch.rand(v.shape, generator=g) * 0.2 + 0.9).to(v.dtype) if v.is_floating_point() else v.clone()
            for k, v in model.state_dict().items()}


CNN = build_model("small_cnn", **CNN_CFG).eval()
CNN_STATE = _randomised_state(CNN)
VIT = build_model("vit_tiny_transreid", **VIT_CFG).eval()
VIT_STATE = _randomised_state(VIT)


def _to_official(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our TransReID names -> the official repository's (independent of the loader's rules)."""
    out = {}
    for k, v in state.items():
        for ours, theirs in (("backbone.", "base."), ("neck.bn.", "bottleneck.")):
            if isinstance(k, str) and k.startswith(ours):
                k = theirs + k[len(ours):]
                break
        out[k] = v
    return out


def _save_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


VALID_CNN_FILE = _save_bytes({"model": CNN_STATE, "model_name": "small_cnn", "model_cfg": CNN_CFG,
                              "num_classes": 0, "epoch": 1})


def _assert_loaded(model: torch.nn.Module, state: dict[str, torch.Tensor], rename=lambda k: k) -> None:
    own = model.state_dict()
    for k, v in state.items():
        if rename(k) not in own or k.endswith("pos_embed") and v.shape != own[rename(k)].shape:
            continue                                     # a position embedding of another grid is resized
        assert torch.equal(own[rename(k)], v.to(own[rename(k)].dtype)), k


def _fresh(name: str) -> torch.nn.Module:
    return build_model(name, **(CNN_CFG if name == "small_cnn" else VIT_CFG)).eval()


@settings(max_examples=60, **FIXTURE_OK)
@given(kind=st.sampled_from(["truncate", "flip", "random", "empty"]), cut=st.floats(0, 1), seed=st.integers(0, 2**32 - 1),
       flips=st.integers(1, 6), random=st.binary(max_size=400))
def test_corrupted_checkpoint_files(tmp_path, kind, cut, seed, flips, random):
    rng = np.random.default_rng(seed)
    data = bytearray(VALID_CNN_FILE)
    if kind == "truncate":
        data = data[:int(cut * (len(data) - 1))]
    elif kind == "flip":
        for pos in rng.integers(0, len(data), flips):
            data[pos] ^= int(rng.integers(1, 256))
    elif kind == "random":
        data = bytearray(random)
    else:
        data = bytearray()
    path = tmp_path / "ckpt.pth"
    path.write_bytes(bytes(data))
    model = _fresh("small_cnn")
    for load in (lambda: load_weights(model, path), lambda: load_inference_model("small_cnn", path)):
        try:
            result = load()
        except CheckpointError as e:
            assert str(path) in str(e) or "does not fit" in str(e) or "not tensors" in str(e), str(e)
            continue
        event(f"{kind}: loaded")
        # a flipped byte inside tensor data may still give a complete, well-shaped state dict
        assert kind == "flip", "a truncated or random file must not load"
        if result is not None:
            assert not result.training and result.spec.name == "small_cnn"


def _perturb(draw, state: dict[str, torch.Tensor]):
    """Drop, rename, add keys and change tensor shapes/dtypes; returns the new dict and what was done."""
    keys = sorted(state)
    out = dict(state)
    done = {"missing": set(), "unexpected": set(), "shape": set()}
    if draw(st.integers(0, 3)) == 0:                                             # intact (maybe another dtype)
        keys = [k for k in keys if state[k].is_floating_point()]
        for k in draw(st.lists(st.sampled_from(keys), unique=True, max_size=2)):
            out[k] = out[k].to(draw(st.sampled_from([torch.float64, torch.float16])))
        return out, done
    for k in draw(st.lists(st.sampled_from(keys), unique=True, max_size=2)):       # dropped
        out.pop(k, None)
        done["missing"].add(k)
    for k in draw(st.lists(st.sampled_from(keys), unique=True, max_size=1)):       # renamed
        if k in out:
            new = k + draw(st.sampled_from(["_old", ".x", "s"]))
            out[new] = out.pop(k)
            done["missing"].add(k)
            done["unexpected"].add(new)
    for name in draw(st.lists(st.sampled_from(["extra.weight", "neck.bn.extra", "features.99.weight", "aux.0", 7]),
                              unique=True, max_size=1)):                         # added (7: not a string)
        out[name] = torch.zeros(2)
        done["unexpected"].add(name)
    for k in draw(st.lists(st.sampled_from(keys), unique=True, max_size=2)):       # reshaped
        if k not in out:
            continue
        shape = list(out[k].shape)
        how = draw(st.sampled_from(["grow", "add_dim", "drop_dim", "scalar"]))
        if how == "grow" and shape:
            i = draw(st.integers(0, len(shape) - 1))
            shape[i] += draw(st.sampled_from([-1, 1, 3])) if shape[i] > 1 else 1
        elif how == "add_dim":
            shape = shape + [1] if draw(st.booleans()) else [1] + shape
        elif how == "drop_dim" and shape:
            shape = shape[1:]
        else:
            shape = []
        if tuple(shape) != tuple(out[k].shape):
            out[k] = torch.zeros(shape, dtype=out[k].dtype)
            done["shape"].add(k)
    for k in draw(st.lists(st.sampled_from(keys), unique=True, max_size=1)):       # another float dtype: still fits
        if k in out and out[k].is_floating_point():
            out[k] = out[k].to(draw(st.sampled_from([torch.float64, torch.float16])))
    return out, done


def _assert_names(e: CheckpointError, done: dict[str, set[str]], rename=lambda k: k, skip=()) -> None:
    msg = str(e)
    assert msg.strip()
    names = done["missing"] | done["unexpected"] | done["shape"]
    if any(not isinstance(k, str) for k in names):      # refused before the keys are compared
        assert "not strings" in msg, msg
        return
    for k in sorted(names):
        if len(names) <= 12 and not rename(k).startswith(skip):
            assert rename(k) in msg, (k, msg)


@settings(max_examples=60, **FIXTURE_OK)
@given(data=st.data(), wrapper=st.sampled_from(["reid_follow", "reid_follow_module", "plain", "state_dict"]),
       model_name=st.sampled_from(["small_cnn", "small_cnn", "vit_tiny_transreid"]))
def test_state_dict_perturbations_our_layout(tmp_path, data, wrapper, model_name):
    state, done = _perturb(data.draw, CNN_STATE)
    if wrapper == "reid_follow_module":
        state = {f"module.{k}": v for k, v in state.items()}
    obj = {"model": state, "model_name": model_name, "model_cfg": CNN_CFG, "epoch": 0} \
        if wrapper.startswith("reid_follow") else {"state_dict": state} if wrapper == "state_dict" else state
    path = tmp_path / "ckpt.pth"
    torch.save(obj, path)
    # a classifier key is dropped on purpose for an inference model; anything else must fit exactly
    bad = {k for group in done.values() for k in group if ".classifier." not in f".{k}"}
    fits = wrapper.startswith("reid_follow") and model_name == "small_cnn" and not bad
    for how in ("weights", "inference"):
        model = _fresh("small_cnn")
        try:
            if how == "weights":
                load_weights(model, path)
            else:
                model = load_inference_model("small_cnn", path)
        except CheckpointError as e:
            event("CheckpointError")
            assert not fits, f"a complete, well-shaped state dict was refused: {e}"
            if wrapper.startswith("reid_follow") and model_name == "small_cnn":
                _assert_names(e, done)
            else:
                assert str(path) in str(e) or "unrecognised checkpoint layout" in str(e) or \
                    "not strings" in str(e), str(e)
            continue
        event("loaded")
        assert fits, f"loaded a state dict with problems {done}"
        _assert_loaded(model, {k.removeprefix("module."): v for k, v in state.items()})


@settings(max_examples=10, **FIXTURE_OK)
@given(key=st.sampled_from([7, 0, -1, None, 2.5, (1, 2), b"features.0.0.weight"]),
       layout=st.sampled_from(["reid_follow", "plain", "transreid"]))
@example(key=7, layout="plain").via("AttributeError: 'int' object has no attribute 'removeprefix'")
def test_entry_names_that_are_not_strings(tmp_path, key, layout):
    state = {**(CNN_STATE if layout != "transreid" else _to_official(VIT_STATE)), key: torch.zeros(1)}
    obj = {"model": state, "model_name": "small_cnn", "model_cfg": CNN_CFG} if layout == "reid_follow" else state
    path = tmp_path / "ckpt.pth"
    torch.save(obj, path)
    model = _fresh("small_cnn" if layout != "transreid" else "vit_tiny_transreid")
    with pytest.raises(CheckpointError, match="not strings"):
        load_weights(model, path)


POS_SHAPES = [(33,), (1, 1, 24), (1, 0, 24), (2, 33, 24), (1, 33, 25), (1, 17, 24), (1, 2, 24), (1, 50, 24),
              (1, 65, 24), (33, 24), (1, 33, 24, 1), ()]


def _pos_embed_refused(msg: str) -> bool:
    """A position embedding that cannot be resized to the model's grid: the message says so."""
    return "pos_embed" in msg and "cannot be resized" in msg or "token grid" in msg or \
        "position embedding has" in msg and "stride" in msg


def _set_pos_embed(state: dict, done: dict, key: str, pos: tuple | None) -> tuple | None:
    """A position embedding may be resized to the model's grid, so a perturbed shape is judged like
    an explicit ``pos``: set it to zeros of that shape and drop it from the expected errors.
    Returns the shape now judged (None: unchanged)."""
    if key in done["shape"]:
        done["shape"].discard(key)
        pos = tuple(state[key].shape) if pos is None else pos
    if pos is not None:
        state[key] = torch.zeros(pos)
        for group in done.values():
            group.discard(key)
    return pos


@settings(max_examples=60, **FIXTURE_OK)
@given(data=st.data(), pos=st.one_of(st.none(), st.sampled_from(POS_SHAPES)))
@example(data=None, pos=(33,)).via("IndexError on a 1-D position embedding")
@example(data=None, pos=(1, 1, 24)).via("a grid of zero patches")
@example(data=None, pos=(1, 0, 24)).via("isqrt of -1")
def test_state_dict_perturbations_transreid_layout(tmp_path, data, pos):
    if data is None:
        state, done = dict(VIT_STATE), {"missing": set(), "unexpected": set(), "shape": set()}
    else:
        state, done = _perturb(data.draw, VIT_STATE)
    pos = _set_pos_embed(state, done, "backbone.pos_embed", pos)
    path = tmp_path / "official.pth"
    torch.save(_to_official(state), path)
    rename = lambda k: k  # noqa: E731  (the messages use our names)
    bad = {k for group in done.values() for k in group}
    try:
        model = _fresh("vit_tiny_transreid")
        load_weights(model, path)
    except CheckpointError as e:
        msg = str(e)
        assert msg.strip()
        if pos is not None and _pos_embed_refused(msg):       # checked first, before the other keys
            return
        assert bad, f"a complete, well-shaped state dict was refused: {msg}"
        _assert_names(e, done, rename)
        return
    event("loaded")
    assert not bad, f"loaded a state dict with problems {done}"
    # a position embedding of another token grid may be resized; it must be (1, 1 + n, 24), n >= 1
    if pos is not None:
        assert len(pos) == 3 and pos[0] == 1 and pos[1] >= 2 and pos[2] == 24, pos
    assert model.backbone.pos_embed.shape == (1, 33, 24)
    _assert_loaded(model, state)


@settings(max_examples=25, **FIXTURE_OK)
@given(pos=st.one_of(st.none(), st.sampled_from(POS_SHAPES)),
       proj=st.sampled_from([None, None, (24, 3, 16), (), (24, 3, 16, 16, 1)]),
       sie=st.sampled_from([None, None, (), (2, 1, 24), (3,)]))
@example(pos=None, proj=None, sie=None).via("an intact file loads")
@example(pos=(1, 65, 24), proj=None, sie=(2, 1, 24)).via("another grid, two cameras")
@example(pos=(33,), proj=None, sie=None).via("IndexError in transreid_config")
@example(pos=None, proj=(), sie=None).via("IndexError: a 0-d patch projection")
@example(pos=None, proj=None, sie=()).via("IndexError: a 0-d SIE table")
def test_inference_model_from_transreid_file(tmp_path, pos, proj, sie):
    """load_inference_model reads stride, size and SIE from an official file: odd shapes are a CheckpointError."""
    state = dict(VIT_STATE)
    if pos is not None:
        state["backbone.pos_embed"] = torch.zeros(pos)
    if proj is not None:
        state["backbone.patch_embed.proj.weight"] = torch.zeros(proj)
    if sie is not None:
        state["backbone.sie_embed"] = torch.zeros(sie)
    path = tmp_path / "official.pth"
    torch.save(_to_official(state), path)
    try:
        model = load_inference_model("vit_tiny_transreid", path)
    except CheckpointError as e:
        event("CheckpointError")
        assert str(e).strip()
        assert pos not in (None, (1, 33, 24)) or proj is not None or sie not in (None, (2, 1, 24)), str(e)
        return
    event("loaded")
    assert proj is None and sie in (None, (2, 1, 24)), "loaded a patch projection or SIE table of the wrong shape"
    if pos is not None:
        assert len(pos) == 3 and pos[0] == 1 and pos[1] >= 2 and pos[2] == 24, pos
    assert not model.training and model.spec.feat_dim == 24


@settings(max_examples=40, **FIXTURE_OK)
@given(data=st.data(), heads=st.lists(st.sampled_from(["head.weight", "head.bias", "fc.weight", "pre_logits.fc.bias"]),
                                      unique=True, max_size=2),
       pos=st.one_of(st.none(), st.sampled_from(POS_SHAPES)))
def test_imagenet_state_dict_into_vit(tmp_path, data, heads, pos):
    """load_pretrained: a timm-layout backbone; ImageNet heads are dropped on purpose, sie_embed may be absent."""
    timm = {k.removeprefix("backbone."): v for k, v in VIT_STATE.items() if k.startswith("backbone.")}
    state, done = _perturb(data.draw, timm)
    for k in ("patch_embed.proj.weight", "blocks.0.norm1.weight"):     # keep the layout recognisable
        if k not in state:
            state[k] = timm[k]
            done["missing"].discard(k)
    for h in heads:
        state[h] = torch.zeros(3)
    pos = _set_pos_embed(state, done, "pos_embed", pos)
    path = tmp_path / "imagenet.pth"
    torch.save(state, path)
    bad = {k for group in done.values() for k in group}
    model = _fresh("vit_tiny_transreid")
    try:
        load_pretrained(model, path)
    except CheckpointError as e:
        assert str(e).strip()
        if pos is not None and _pos_embed_refused(str(e)):    # checked first, before the other keys
            return
        assert bad, f"a complete, well-shaped state dict was refused: {e}"
        _assert_names(e, done)
        return
    event("loaded")
    assert not bad, f"loaded a state dict with problems {done}"
    if pos is not None:
        assert len(pos) == 3 and pos[0] == 1 and pos[1] >= 2 and pos[2] == 24, pos
    _assert_loaded(model.backbone, state)


@settings(max_examples=30, **FIXTURE_OK)
@given(model_cfg=st.one_of(
    st.just(CNN_CFG), st.just({}), st.just({"width": 4}),
    st.sampled_from([[1, 2], "width=4", 7, None, {"width": 8, "input_size": [32, 16]}, {"width": "4"},
                     {"bogus": 1, **CNN_CFG}, {"input_size": [8, 8], "width": 4}, {"width": -1, "input_size": [32, 16]},
                     {"width": 4, "input_size": "32x16"}, {"width": 4, "input_size": [32]}])),
       drop_cfg=st.booleans())
def test_inference_model_rebuilt_from_saved_settings(tmp_path, model_cfg, drop_cfg):
    """load_inference_model rebuilds the model from the file's model_cfg: a bad one is a CheckpointError."""
    obj = {"model": CNN_STATE, "model_name": "small_cnn", "num_classes": 0, "epoch": 0}
    if not drop_cfg:
        obj["model_cfg"] = model_cfg
    path = tmp_path / "ckpt.pth"
    torch.save(obj, path)
    # small_cnn's weights do not depend on the input size: any valid (H, W) >= 16 fits
    size = model_cfg.get("input_size", [128, 64]) if isinstance(model_cfg, dict) else None
    fits = not drop_cfg and isinstance(model_cfg, dict) and model_cfg.get("width") == 4 and \
        set(model_cfg) <= {"width", "input_size"} and isinstance(size, list) and len(size) == 2 and min(size) >= 16
    try:
        model = load_inference_model("small_cnn", path)
    except CheckpointError as e:
        assert not fits, str(e)
        assert str(path) in str(e) or "does not fit" in str(e), str(e)
        return
    assert fits, (model_cfg, drop_cfg)
    assert not model.training and model.spec.input_size == tuple(size)
    _assert_loaded(model, CNN_STATE)


@settings(max_examples=10, **FIXTURE_OK)
@given(key=st.sampled_from(sorted(CNN_STATE)))
def test_tensors_without_data(tmp_path, key):
    """A tensor saved from the meta device has the right shape but no data: refused, naming it."""
    state = dict(CNN_STATE)
    state[key] = torch.empty(state[key].shape, dtype=state[key].dtype, device="meta")
    path = tmp_path / "meta.pth"
    torch.save({"model": state, "model_name": "small_cnn", "model_cfg": CNN_CFG}, path)
    with pytest.raises(CheckpointError) as e:
        load_weights(_fresh("small_cnn"), path)
    assert key in str(e.value) and str(path) in str(e.value), str(e.value)


class _Sneaky:
    """Unpickling this runs ``os.makedirs(marker)``: code execution a weights_only load must refuse."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.makedirs, (self.marker,)


@settings(max_examples=12, **FIXTURE_OK)
@given(where=st.sampled_from(["top", "in_state", "as_tensor", "in_list", "whole_file"]),
       payload=st.sampled_from(["sneaky", "path", "ndarray_object", "slice"]))
def test_loading_is_weights_only(tmp_path, where, payload):
    marker = tmp_path / f"pwned_{where}_{payload}"
    evil = {"sneaky": _Sneaky(str(marker)), "path": Path("x"), "ndarray_object": np.array([object()]),
            "slice": slice(1, 2)}[payload]
    state = dict(CNN_STATE)
    obj = {"model": state, "model_name": "small_cnn", "model_cfg": CNN_CFG}
    if where == "top":
        obj["extra"] = evil
    elif where == "in_state":
        state["extra"] = evil
    elif where == "as_tensor":
        state["features.0.0.weight"] = evil
    elif where == "in_list":
        obj["history"] = [1, evil]
    else:
        obj = evil
    path = tmp_path / "evil.pth"
    torch.save(obj, path)
    for load in (lambda: load_weights(_fresh("small_cnn"), path), lambda: load_inference_model("small_cnn", path),
                 lambda: load_pretrained(_fresh("small_cnn"), path)):
        with pytest.raises(CheckpointError) as e:
            load()
        assert str(path) in str(e.value) or "not tensors" in str(e.value), str(e.value)
    assert not marker.exists(), "unpickling ran code"


# --------------------------------------------------------------------------------------------
# 3. ONNX models for the embedder: OnnxEmbedder

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from reid_follow.reid.config import EmbedderConfig  # noqa: E402
from reid_follow.reid.onnx_backend import OnnxEmbedder  # noqa: E402

DTYPES = {"float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16, "int32": TensorProto.INT32,
          "float64": TensorProto.DOUBLE, "uint8": TensorProto.UINT8}


def _onnx_model(shape: list, dtype: str, dim: int, two_inputs: bool, meta: dict[str, str], seed: int) -> bytes:
    """x -> Cast(float) -> mean over spatial axes -> (N, C) -> MatMul -> (N, dim): valid for any input rank."""
    rng = np.random.default_rng(seed)
    x = helper.make_tensor_value_info("x", DTYPES[dtype], shape)
    nodes = [helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT)]
    rank = len(shape)
    if isinstance(shape[1], int):
        channels = shape[1]
        axes = list(range(2, rank))
    else:
        channels, axes = 1, list(range(1, rank))
    if axes:
        nodes.append(helper.make_node("ReduceMean", ["xf"], ["r"], axes=axes, keepdims=1))
    nodes.append(helper.make_node("Flatten", ["r" if axes else "xf"], ["f"], axis=1))
    w = numpy_helper.from_array(rng.standard_normal((channels, dim)).astype(np.float32) + 0.1, "w")
    nodes.append(helper.make_node("MatMul", ["f", "w"], ["y"]))
    inputs = [x] + ([helper.make_tensor_value_info("x2", DTYPES[dtype], shape)] if two_inputs else [])
    graph = helper.make_graph(nodes, "reid", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                                                                    [shape[0], dim])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    return model.SerializeToString()


META_VALUES = ["[0.5, 0.5, 0.5]", "[0.1, 0.2, 0.3]", "5", "[1, 2]", "nope", "[0, 0, 0]", '["a", 1, 2]',
               "[NaN, 1, 1]", "null", "{}", "[1, 2, 3, 4]", "[true, 1, 1]"]


def _meta_ok(key: str, value: str) -> bool:
    try:
        v = json.loads(value)
    except ValueError:
        return False
    return isinstance(v, list) and len(v) == 3 and all(type(x) in (int, float) and math.isfinite(x) for x in v) \
        and (key.endswith("mean") or all(x > 0 for x in v))


# each aspect of a model: (valid values, invalid values); a drawn set of aspects is broken
ASPECTS = {
    "rank": (st.just(4), st.sampled_from([2, 3, 5])),
    "batch": (st.sampled_from(["N", "N", 1, 2, 3]), st.just(0)),
    "channels": (st.just(3), st.sampled_from([1, 2, 4, "C"])),
    "hw": (st.lists(st.integers(1, 24), min_size=3, max_size=3),
           st.lists(st.one_of(st.integers(1, 24), st.sampled_from([0, "H", None])), min_size=3, max_size=3)
           .filter(lambda hw: not all(isinstance(v, int) and v >= 1 for v in hw[:2]))),
    "dtype": (st.sampled_from(["float32", "float32", "float16"]), st.sampled_from(["int32", "float64", "uint8"])),
    "dim": (st.sampled_from([8, 16, 3, 1]), st.just(0)),
    "two_inputs": (st.just(False), st.just(True)),
    "meta": (st.dictionaries(st.sampled_from(["reid_follow.mean", "reid_follow.std"]),
                             st.sampled_from(META_VALUES[:2]), max_size=2),
             st.dictionaries(st.sampled_from(["reid_follow.mean", "reid_follow.std"]), st.sampled_from(META_VALUES),
                             min_size=1, max_size=2)),
}


@st.composite
def onnx_cases(draw) -> dict[str, typing.Any]:
    broken = draw(st.sets(st.sampled_from(sorted(ASPECTS)), max_size=2))
    return {name: draw(bad if name in broken else good) for name, (good, bad) in ASPECTS.items()}


def _case(rank=4, batch="N", channels=3, hw=(16, 8, 1), dtype="float32", dim=8, two_inputs=False, meta=None):
    return dict(rank=rank, batch=batch, channels=channels, hw=list(hw), dtype=dtype, dim=dim, two_inputs=two_inputs,
                meta=meta or {})


@settings(max_examples=60, **FIXTURE_OK)
@given(case=onnx_cases(), boxes=st.integers(0, 3), seed=st.integers(0, 2**32 - 1))
@example(case=_case(meta={"reid_follow.mean": "5"}), boxes=2, seed=0).via("TypeError from a scalar mean")
@example(case=_case(meta={"reid_follow.mean": "[1, 2]"}), boxes=2, seed=0).via("RuntimeError at embed time")
@example(case=_case(meta={"reid_follow.std": "[0, 0, 0]"}), boxes=2, seed=0).via("NaN features from std 0")
@example(case=_case(batch=0), boxes=2, seed=0).via("range() step 0 from a zero batch")
@example(case=_case(hw=(0, 8, 1)), boxes=2, seed=0).via("NaN features from a zero-height input")
@example(case=_case(dim=0), boxes=2, seed=0).via("(N, 0) features")
def test_onnx_embedder_models(tmp_path, case, boxes, seed):
    rank, batch, channels, hw, dtype, dim, two_inputs, meta = (case[k] for k in (
        "rank", "batch", "channels", "hw", "dtype", "dim", "two_inputs", "meta"))
    shape = [batch, channels, *hw][:rank]
    path = tmp_path / "model.onnx"
    path.write_bytes(_onnx_model(shape, dtype, dim, two_inputs, meta, seed))
    valid_input = rank == 4 and shape[1] == 3 and all(isinstance(s, int) and s >= 1 for s in shape[2:])
    valid = valid_input and dtype in ("float32", "float16") and not two_inputs and dim >= 1 and \
        (not isinstance(batch, int) or batch >= 1) and all(_meta_ok(k, v) for k, v in meta.items())
    try:
        emb = OnnxEmbedder(path, device="cpu", config=EmbedderConfig(onnx_threads=1, max_batch=2))
    except ValueError as e:
        msg = str(e)
        event("ValueError")
        assert not valid, f"a valid model was refused: {msg}"
        assert msg.strip() and str(path) in msg, msg
        if not two_inputs and not valid_input and "cannot load" not in msg:
            assert "expected (N, 3, H, W), got (" in msg, msg      # names expected and actual shapes
        return
    event("loaded")
    assert valid, f"an invalid model was accepted: shape={shape} dtype={dtype} dim={dim} two={two_inputs} meta={meta}"
    assert emb.input_size == (shape[2], shape[3]) and emb.dim == dim
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
    xy = rng.uniform(0, 20, (boxes, 2))
    b = np.concatenate([xy, xy + rng.uniform(4, 20, (boxes, 2))], axis=1).astype(np.float32)
    out = emb.embed(frame, b)
    assert out.shape == (boxes, dim) and out.dtype == np.float32
    assert np.isfinite(out).all()
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-3)


@settings(max_examples=30, **FIXTURE_OK)
@given(data=st.one_of(st.binary(max_size=300), st.sampled_from([b"", b"\x08\x07", b"onnx"])),
       prefix=st.booleans(), cut=st.floats(0, 1))
def test_onnx_random_bytes(tmp_path, data, prefix, cut):
    """Random bytes, or a valid model truncated / with junk appended: a ValueError naming the file."""
    good = _onnx_model(["N", 3, 16, 8], "float32", 8, False, {}, 0)
    content = good[:int(cut * (len(good) - 1))] if prefix else data
    path = tmp_path / "junk.onnx"
    path.write_bytes(content)
    try:
        emb = OnnxEmbedder(path, device="cpu", config=EmbedderConfig(onnx_threads=1))
    except ValueError as e:
        assert str(path) in str(e), str(e)
        event("ValueError")
        return
    event("loaded")
    # protobuf is lenient: what loads must still be a working (N, 3, H, W) -> (N, D) embedder
    out = emb.embed(np.zeros((20, 20, 3), np.uint8), np.array([[0, 0, 10, 10]], np.float32))
    assert out.shape == (1, emb.dim) and np.isfinite(out).all()


def test_onnx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        OnnxEmbedder(tmp_path / "nope.onnx", device="cpu")
