"""Target gallery, distractor bank and the identity score on real person crops (MOT16-05)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from reid_follow.follow.evaluate import pedestrians
from reid_follow.follow.gallery import DistractorBank, TargetGallery, load_gallery, save_gallery
from reid_follow.follow.identity import IdentityScore
from reid_follow.mot import read_mot, xywh_to_xyxy
from reid_follow.reid import build_embedder


@pytest.fixture(scope="module")
def crops(mot16_05):
    """Default-embedder embeddings of well-visible pedestrians: (embeddings, gt ids, frames)."""
    gt = pedestrians(read_mot(mot16_05 / "gt" / "gt.txt"))
    embedder = build_embedder("default")
    emb, ids, frames = [], [], []
    for f in range(1, 49):
        r = (gt.frame == f) & (gt.visibility >= 0.6) & (gt.xywh[:, 3] >= 50)
        if not r.any():
            continue
        img = cv2.imread(str(mot16_05 / "img1" / f"{f:06d}.jpg"))
        boxes = np.clip(xywh_to_xyxy(gt.xywh[r]), 0, [640, 480, 640, 480])
        emb.append(embedder.embed(img, boxes))
        ids += list(gt.ids[r])
        frames += [f] * int(r.sum())
    return np.concatenate(emb), np.array(ids), np.array(frames)


def test_gallery_is_bounded_diverse_and_keeps_enrollment(crops) -> None:
    emb, ids, _ = crops
    target = emb[ids == 1]
    g = TargetGallery(max_size=5, min_distance=0.02, pinned=2)
    assert g.add(target[0]) and not g.add(target[0])          # an exact duplicate adds nothing
    for e in target[1:]:
        g.add(e)
    assert len(g) == 5
    assert np.allclose(g.samples[0], target[0])                # pinned enrollment sample survives
    sim = g.samples @ g.samples.T
    assert (1 - sim[~np.eye(5, dtype=bool)]).min() >= 0.02
    with pytest.raises(ValueError, match="dims"):
        g.add(np.ones(3))
    bank = DistractorBank(max_size=4)
    bank.add(emb[:6])
    assert len(bank) == 4 and np.allclose(bank.array()[-1], emb[5])


def test_identity_score_is_calibrated_open_set(crops) -> None:
    """Target high, a person seen beside it low, and a person never seen low too (not mid)."""
    emb, ids, frames = crops
    target = 1
    early, late = frames <= 20, frames > 28
    never = [i for i in np.unique(ids) if i != target and not (early & (ids == i)).any()]
    seen = [i for i in np.unique(ids) if i != target and (early & (ids == i)).any()]
    assert seen
    g = TargetGallery(60, 0.02, 3)
    for e in emb[early & (ids == target)]:
        g.add(e)
    # Distractors: the people seen early, except one kept back as a never-seen stranger.
    stranger = seen[-1] if not never else never[0]
    bank = emb[early & (ids != target) & (ids != stranger)]
    score = IdentityScore(top_k=3)
    score.fit(g.samples, bank)
    assert score.ready
    pos = score.score(emb[late & (ids == target)], g.samples, bank)
    neg = score.score(emb[late & (ids != target) & (ids != stranger)], g.samples, bank)
    new = score.score(emb[late & (ids == stranger)], g.samples, bank)
    assert len(pos) and len(neg) and len(new)
    assert np.median(pos) > 0.8 and np.median(neg) < 0.1 and np.median(new) < 0.2, \
        (np.median(pos), np.median(neg), np.median(new))
    assert (pos[:, None] > neg[None, :]).mean() > 0.95 and (pos[:, None] > new[None, :]).mean() > 0.95
    unfit = IdentityScore(top_k=3)
    unfit.fit(g.samples, None)                                  # no other person seen: no calibration
    assert not unfit.ready
    unfit.fit(g.samples[:1], bank)                              # one target sample: no same-person statistics
    assert not unfit.ready


def test_gallery_file_round_trip_and_mismatch(crops, tmp_path) -> None:
    emb, ids, _ = crops
    g, bank = TargetGallery(10, 0.0, 3), DistractorBank(20)
    for e in emb[ids == 1][:6]:
        g.add(e)
    bank.add(emb[ids != 1][:7])
    path = tmp_path / "person.npz"
    save_gallery(path, g, bank)
    g2, bank2 = TargetGallery(10, 0.0, 0), DistractorBank(20)
    load_gallery(path, g2, bank2, dim=emb.shape[1])
    assert np.allclose(g2.samples, g.samples) and g2.pinned == 3 and len(bank2) == 7
    with pytest.raises(ValueError, match="another embedder"):
        load_gallery(path, TargetGallery(10, 0, 0), DistractorBank(5), dim=512)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot read gallery"):
        load_gallery(tmp_path / "bad.npz", TargetGallery(10, 0, 0), DistractorBank(5), dim=None)
    with pytest.raises(ValueError, match="empty gallery"):
        save_gallery(path, TargetGallery(10, 0, 0), bank)


def test_nearer_target_needs_more_than_any_distractor_ever_was() -> None:
    """Before the score is calibrated: a crop must be nearer the target's samples than every
    distractor is to it, and nearer than any distractor ever was to the target (a stranger can be
    nearer the target than the people seen beside it only because it is unlike everyone)."""
    from reid_follow.follow.config import FollowConfig
    from reid_follow.follow.target import TargetModel

    def unit(deg_xy: float, deg_xz: float) -> np.ndarray:
        a, b = np.radians(deg_xy), np.radians(deg_xz)
        return np.array([np.cos(a) * np.cos(b), np.sin(a) * np.cos(b), np.sin(b)])

    model = TargetModel(FollowConfig())
    model.add_target(unit(0, 0))
    assert model.nearer_target(unit(0, 40))                    # no distractor yet: nothing to compare with
    model.add_distractors(unit(30, 0)[None])                   # cos 30 deg = 0.87 to the target
    assert model.nearer_target(unit(0, 10))                    # the target again: 0.98
    assert not model.nearer_target(unit(28, 0))                # the distractor again
    stranger = unit(0, 40)                                     # 0.77 to the target, 0.66 to the distractor
    assert float(model.gallery.similarity(stranger)[0]) > float(model.distractors.array()[0] @ stranger)
    assert not model.nearer_target(stranger)                   # ... but less than the distractor was
