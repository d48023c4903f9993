"""OpenCV's built-in HOG + linear SVM people detector: no model file, runs anywhere.

It is the default so that the stack works on a fresh machine without downloads; it finds upright,
mostly unoccluded people at least 128 px tall (its 64x128 window) and is slow on large frames,
hence the ``resize_width`` parameter.
"""
from __future__ import annotations

import cv2
import numpy as np

from reid_follow.config import DetectorConfig
from reid_follow.detect import check_frame, nms


class HogPeopleDetector:
    def __init__(self, cfg: DetectorConfig) -> None:
        self.cfg = cfg
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def detect(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        check_frame(frame)
        scale = 1.0
        if self.cfg.resize_width and frame.shape[1] != self.cfg.resize_width:
            scale = self.cfg.resize_width / frame.shape[1]
            interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=interp)
        rects, weights = self._hog.detectMultiScale(frame, winStride=(8, 8), padding=(8, 8), scale=1.05)
        if len(rects) == 0:
            return np.zeros((0, 4)), np.zeros(0)
        rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4)
        margins = np.asarray(weights, dtype=np.float64).reshape(-1)
        # SVM margins -> (0, 1) so that score_threshold means the same for every detector.
        scores = 1.0 / (1.0 + np.exp(-margins))
        boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1) / scale
        keep = (scores >= self.cfg.score_threshold) & (margins >= self.cfg.hog_min_margin)
        return nms(boxes[keep], scores[keep], self.cfg.nms_iou)
