"""``reid-follow train`` / ``eval`` end to end on a real sequence, and their bad-input errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from reid_follow.cli import main
from reid_follow.train.config import TrainConfig


def test_train_then_eval_writes_results(mot16_05: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    torch.set_num_threads(1)
    run = tmp_path / "run"
    rc = main(["train", "--model", "small_cnn", "--root", str(mot16_05), "--epochs", "2", "--device", "cpu",
               "--out", str(run), "--quiet", "--set", "batches_per_epoch=3", "--set", "p=2", "--set", "k=2",
               "--set", "input_size=[64, 32]", "--set", "data.mot.test_fraction=0.5"])
    assert rc == 0, capsys.readouterr().err
    history = json.loads((run / "metrics.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2] and "mAP" in history[-1]
    assert (run / "config.yaml").read_text().startswith("model: small_cnn")

    out = tmp_path / "eval"
    rc = main(["eval", "--weights", str(run / "last.pt"), "--root", str(mot16_05), "--rerank", "--device", "cpu",
               "--out", str(out), "--quiet", "--set", "data.mot.test_fraction=0.5"])
    assert rc == 0, capsys.readouterr().err
    report = json.loads((out / "results.json").read_text())
    assert set(report["results"]) == {"plain", "re-ranked"}
    # the eval command sees the held-out ids the training run evaluated on, so the scores agree
    assert report["results"]["plain"]["mAP"] == pytest.approx(history[-1]["mAP"], abs=1e-4)
    assert (out / "cmc.png").stat().st_size > 5_000 and (out / "ranked.png").stat().st_size > 20_000
    table = capsys.readouterr().out
    assert "re-ranked" in table and "mAP" in table


def test_cli_errors_name_the_problem(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "--model", "small_cnn", "--root", str(tmp_path / "nowhere"), "--out", str(tmp_path)]) == 2
    assert f"mot root not found: {tmp_path / 'nowhere'}" in capsys.readouterr().err
    assert main(["train", "--set", "optim.lrr=1", "--root", str(tmp_path)]) == 2
    assert "unknown parameter(s) ['optim.lrr']" in capsys.readouterr().err
    assert main(["eval", "--weights", str(tmp_path / "none.pt"), "--root", str(tmp_path), "--dataset", "folder",
                 "--out", str(tmp_path)]) == 2
    assert "has neither train/ nor query/" in capsys.readouterr().err


def test_sie_camera_ids_reach_training_and_eval(mot16_05: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """With sie_camera the SIE table has a row per camera of the data, each image's camera trains
    its row, the checkpoint rebuilds itself, and eval feeds the cameras (scores as in training)."""
    from reid_follow.data.tracklets import MotTracklets, TrackletConfig
    from reid_follow.eval.evaluate import eval_data, extract_features
    from reid_follow.models.checkpoint import load_inference_model
    from reid_follow.train.trainer import build_train_model

    torch.set_num_threads(1)
    run = tmp_path / "run"
    rc = main(["train", "--model", "vit_tiny_transreid", "--root", str(mot16_05), "--epochs", "1", "--device", "cpu",
               "--out", str(run), "--quiet", "--set", "batches_per_epoch=2", "--set", "p=2", "--set", "k=2",
               "--set", "input_size=[64, 32]", "--set", "data.mot.test_fraction=0.5", "--set", "sie_camera=true"])
    assert rc == 0, capsys.readouterr().err
    trained_map = json.loads((run / "metrics.json").read_text())[-1]["mAP"]
    ckpt = torch.load(run / "last.pt", weights_only=True)
    assert ckpt["model_cfg"] == {"input_size": [64, 32], "camera_num": 2}
    torch.manual_seed(0)                                   # the trainer's seed: the table it started from
    initial = build_train_model(TrainConfig(model="vit_tiny_transreid"), 1, ckpt["model_cfg"]).backbone.sie_embed
    trained = ckpt["model"]["backbone.sie_embed"]
    assert all(not torch.equal(trained[c], initial[c]) for c in (0, 1))      # both cameras' rows were trained
    model = load_inference_model("vit_tiny_transreid", run / "last.pt")
    assert model.backbone.camera_num == 2
    gallery = [s for s in MotTracklets(mot16_05, TrackletConfig(test_fraction=0.5)).gallery if s.camid == 1][:4]
    data = eval_data(gallery, model.spec)
    with torch.no_grad():
        unlabelled = model(torch.stack([data[i][0] for i in range(len(data))]))      # camera 0 for all
        assert not torch.allclose(extract_features(model, data), unlabelled, atol=1e-4)  # camera 1 fed

    out = tmp_path / "eval"
    rc = main(["eval", "--weights", str(run / "last.pt"), "--root", str(mot16_05), "--device", "cpu",
               "--out", str(out), "--quiet", "--set", "data.mot.test_fraction=0.5"])
    assert rc == 0, capsys.readouterr().err
    report = json.loads((out / "results.json").read_text())
    assert report["results"]["plain"]["mAP"] == pytest.approx(trained_map, abs=1e-4)
