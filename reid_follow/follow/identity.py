"""One calibrated target confidence for every decision: an open-set posterior over three hypotheses.

A crop is either the target, one of the people seen beside the target (the distractor bank), or
someone never seen. The evidence is two similarities: ``s_t``, the mean of the ``top_k`` highest
cosine similarities to the target gallery, and ``s_d``, the same to the distractor bank. Both are
turned into likelihood ratios "same person vs different people" by one calibration of the
embedder's similarities, learnt online for this target:

* same-person similarities: each gallery sample against the rest of the gallery (leave one out);
* different-people similarities: each distractor against the gallery.

Two Gaussians with one pooled variance, the mean of the two classes' (linear discriminant, so
the log-ratio is linear and monotone in the similarity, and separable samples cannot make it
infinite), give ``log LR(s) = a * (s - c)``. The same-person spread comes from nearby frames
(consecutive crops are alike), so it is narrow; pooling it with the different-people spread
keeps a target whose appearance drifted from scoring zero at once. With equal priors the posterior is

    P(target) = LR(s_t) / (LR(s_t) + LR(s_d) + 1)

where the 1 is the never-seen hypothesis (a different person: likelihood ratio 1 by definition).
A stranger unlike both the target and the distractors has ``s_t`` at the level of different
people, so LR(s_t) is small and the score is low; a seen distractor has a large LR(s_d) and scores
low; only a crop much closer to the target than different people ever are scores high. The scale
is the embedder's own, so the same thresholds mean the same for a colour histogram and OSNet.
"""
from __future__ import annotations

import numpy as np

MIN_STD = 0.02          # floor of the pooled std (cosine): a calibration from few samples stays finite
MAX_LOG_LR = 30.0


class IdentityScore:
    """``score(embeddings) -> P(target)`` in [0, 1]; ``None`` until it can be calibrated."""

    def __init__(self, top_k: int) -> None:
        self.top_k = top_k
        self.slope = 0.0
        self.centre = 0.0
        self.ready = False

    def fit(self, gallery: np.ndarray | None, distractors: np.ndarray | None) -> None:
        """Calibrate from the gallery (>= 2 samples) and the distractors (>= 1); else not ready."""
        self.ready = False
        if gallery is None or distractors is None or len(gallery) < 2 or len(distractors) == 0:
            return
        gg = gallery @ gallery.T
        np.fill_diagonal(gg, -np.inf)
        same = self._top(gg)
        diff = self._top(distractors @ gallery.T)
        var = (same.var() + diff.var()) / 2      # class-balanced, like the equal priors
        gap = float(same.mean() - diff.mean())
        if gap <= 0:            # the embedder cannot tell this target from the people around it
            return
        self.slope = gap / max(float(var), MIN_STD ** 2)
        self.centre = float(same.mean() + diff.mean()) / 2
        self.ready = True

    def _top(self, sim: np.ndarray) -> np.ndarray:
        """Per row, the mean of its ``top_k`` largest finite similarities."""
        k = min(self.top_k, sim.shape[1] - (1 if np.isneginf(sim).any() else 0))
        k = max(k, 1)
        top = -np.partition(-sim, k - 1, axis=1)[:, :k]
        return top.mean(axis=1)

    def log_lr(self, sim: np.ndarray) -> np.ndarray:
        return np.clip(self.slope * (sim - self.centre), -MAX_LOG_LR, MAX_LOG_LR)

    def score(self, embeddings: np.ndarray, gallery: np.ndarray, distractors: np.ndarray | None) -> np.ndarray:
        """P(target) of each embedding (rows); requires :attr:`ready`."""
        e = np.atleast_2d(embeddings)
        # (bank @ crops.T).T, not crops @ bank.T: the same numbers, but OpenBLAS runs this shape
        # single-threaded, where the other one can cost 100x more on a busy small CPU (measured).
        lr_t = np.exp(self.log_lr(self._top((gallery @ e.T).T)))
        lr_d = np.exp(self.log_lr(self._top((distractors @ e.T).T))) if distractors is not None \
            and len(distractors) else np.zeros(len(e))
        return lr_t / (lr_t + lr_d + 1.0)
