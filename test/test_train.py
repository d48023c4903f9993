"""Training: schedule, strict checkpoints, and a real run on tracklet crops that must learn."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from reid_follow.data.tracklets import MotTracklets, TrackletConfig
from reid_follow.train.checkpoint import CheckpointError, load_checkpoint, load_state_strict
from reid_follow.train.config import OptimConfig, TrainConfig
from reid_follow.train.schedule import lr_factor
from reid_follow.train.trainer import Trainer


def test_schedule_warmup_cosine_and_steps() -> None:
    cos = OptimConfig(warmup_epochs=2, warmup_factor=0.1, schedule="cosine")
    assert lr_factor(0, 10, cos) == pytest.approx(0.1)
    assert lr_factor(1, 10, cos) == pytest.approx(0.55)
    assert lr_factor(2, 10, cos) == pytest.approx(1.0)
    assert lr_factor(6, 10, cos) == pytest.approx(0.5)
    assert lr_factor(10, 10, cos) == pytest.approx(0.0, abs=1e-12)
    step = OptimConfig(warmup_epochs=0, schedule="step", steps=[3, 5], gamma=0.1)
    assert [lr_factor(e, 8, step) for e in (0, 2.9, 3, 4.5, 5, 7)] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="k >= 2"):
        TrainConfig(k=1).validate()
    with pytest.raises(ValueError, match="optimizer must be one of"):
        TrainConfig(optim=OptimConfig(optimizer="lbfgs")).validate()


def test_strict_loading_names_the_keys(tmp_path: Path) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    state = model.state_dict()
    state["0.weight"] = torch.zeros(5, 4)
    state["extra.bias"] = torch.zeros(1)
    del state["1.running_mean"]
    with pytest.raises(CheckpointError) as e:
        load_state_strict(model, state, "ckpt.pt")
    msg = str(e.value)
    assert "missing keys (1): 1.running_mean" in msg and "unexpected keys (1): extra.bias" in msg
    assert "0.weight: checkpoint (5, 4) vs model (3, 4)" in msg
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "none.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "bad.pt")
    torch.save({"weights": {}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="no 'model' entry"):
        load_checkpoint(tmp_path / "other.pt")


def _config(**kw) -> TrainConfig:
    cfg = TrainConfig(model="small_cnn", epochs=4, batches_per_epoch=50, p=8, k=4, device="cpu",
                      eval_every=0, checkpoint_every=3, **kw)
    cfg.optim.warmup_epochs = 1
    return cfg


@pytest.mark.slow
def test_training_on_tracklets_raises_heldout_map_and_resumes(shared_data: Path, tmp_path: Path) -> None:
    """200 iterations of small_cnn on crops of all shared sequences; half the ids are held out."""
    torch.set_num_threads(2)
    data = MotTracklets(shared_data, TrackletConfig(test_fraction=0.5, sample_every=3, seed=0))
    assert not set(data.train_pids) & {s.pid for s in data.query}
    trainer = Trainer(_config(), data, tmp_path / "run", progress=False)
    untrained = trainer.evaluate()["mAP"]
    history = trainer.fit()
    trained = history[-1]["mAP"]
    assert trained > untrained + 0.08, (untrained, trained)
    assert history[-1]["loss"] < history[0]["loss"]
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [h["epoch"] for h in written] == list(range(1, 5))
    assert (tmp_path / "run" / "curves.png").stat().st_size > 10_000

    resumed = Trainer(_config(), data, tmp_path / "resumed", progress=False)
    again = resumed.fit(resume=tmp_path / "run" / "epoch_3.pt")
    assert [h["epoch"] for h in again] == list(range(1, 5))
    assert again[-1]["loss"] == pytest.approx(history[-1]["loss"], rel=1e-5)
    assert again[-1]["mAP"] == pytest.approx(trained, abs=1e-4)

    other = _config()
    other.p = 4
    wrong_classes = MotTracklets(shared_data, TrackletConfig(test_fraction=0.6, sample_every=3, seed=0))
    with pytest.raises(CheckpointError, match="classes"):
        Trainer(other, wrong_classes, tmp_path / "wrong", progress=False).resume(tmp_path / "run" / "last.pt")
