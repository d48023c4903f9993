"""Crop, resize and normalise every box of a frame in one ``roi_align`` call.

The frame goes to the device once; all crops come out of a single batched op (no per-crop Python
loop, no per-crop host copy). ``roi_align`` with adaptive sampling averages several samples per
output pixel when a box is larger than the crop, so big boxes are anti-aliased like cv2.INTER_AREA.
"""
from __future__ import annotations

import numpy as np
import torch
from torchvision.ops import roi_align

from .boxes import check_frame, clip_boxes


def frame_to_tensor(frame_bgr: np.ndarray, device: torch.device) -> torch.Tensor:
    """(1, 3, H, W) float32 RGB tensor in 0..255 on ``device`` (one host-to-device copy of uint8)."""
    frame = check_frame(frame_bgr)
    t = torch.from_numpy(frame).to(device, non_blocking=True)
    return t.flip(-1).permute(2, 0, 1).unsqueeze(0).float()


def crop_boxes(frame_bgr: np.ndarray, boxes: np.ndarray, size: tuple[int, int], device: torch.device,
               mean: tuple[float, ...] | None = None, std: tuple[float, ...] | None = None) -> torch.Tensor:
    """(N, 3, H, W) RGB crops of ``boxes`` (xyxy pixels, clipped) resized to ``size`` = (H, W).

    With ``mean``/``std`` (RGB, on the 0..1 scale) the crops are normalised as ``(x/255 - mean)/std``;
    without them they stay in 0..255.
    """
    frame = check_frame(frame_bgr)
    height, width = frame.shape[:2]
    b = torch.from_numpy(clip_boxes(boxes, height, width)).to(device)
    img = frame_to_tensor(frame, device)
    rois = torch.cat([torch.zeros(len(b), 1, device=device), b], dim=1)
    crops = roi_align(img, rois, output_size=size, spatial_scale=1.0, sampling_ratio=-1, aligned=True)
    if mean is None or std is None:
        return crops
    m = torch.tensor(mean, device=device, dtype=crops.dtype).view(1, 3, 1, 1) * 255.0
    s = torch.tensor(std, device=device, dtype=crops.dtype).view(1, 3, 1, 1) * 255.0
    return (crops - m) / s
