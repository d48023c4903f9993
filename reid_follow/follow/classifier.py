"""Online target classifier: class-balanced ridge regression on embeddings.

Positives are the gallery, negatives the distractors. A linear model learns *which dimensions*
tell this person from the people around them, which a plain nearest-gallery similarity cannot
(two people in dark coats are close in any colour embedding). Solved in its dual form because
samples (a few hundred) are fewer than dimensions, so a refit costs well under a millisecond.
"""
from __future__ import annotations

import numpy as np


class TargetClassifier:
    """``score(embeddings)`` in [0, 1]: 1 = the target, 0 = someone else."""

    def __init__(self, regularization: float) -> None:
        self.regularization = regularization
        self.weights: np.ndarray | None = None
        self.bias = 0.0

    @property
    def ready(self) -> bool:
        return self.weights is not None

    def fit(self, positives: np.ndarray, negatives: np.ndarray | None) -> None:
        """Refit; without negatives there is nothing to discriminate against and the model is unset."""
        if negatives is None or len(negatives) == 0 or len(positives) == 0:
            self.weights = None
            return
        x = np.concatenate([positives, negatives]).astype(np.float64)
        x = np.concatenate([x, np.ones((len(x), 1))], axis=1)       # bias as a constant feature
        y = np.r_[np.ones(len(positives)), np.zeros(len(negatives))]
        # Class balance: each class carries half the total weight, whatever its sample count.
        sw = np.sqrt(np.r_[np.full(len(positives), 0.5 / len(positives)),
                           np.full(len(negatives), 0.5 / len(negatives))] * len(x))
        xs = x * sw[:, None]
        alpha = np.linalg.solve(xs @ xs.T + self.regularization * np.eye(len(x)), sw * y)
        w = xs.T @ alpha
        self.weights, self.bias = w[:-1], float(w[-1])

    def score(self, embeddings: np.ndarray) -> np.ndarray:
        if self.weights is None:
            raise RuntimeError("classifier not fitted")
        e = np.asarray(embeddings, dtype=np.float64).reshape(-1, len(self.weights))
        return np.clip(e @ self.weights + self.bias, 0.0, 1.0)
