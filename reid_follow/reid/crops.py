"""Crop, resize and normalise every box of a frame in one ``roi_align`` call.

The frame (the region holding the boxes) goes to the device once; all crops come out of a single batched op (no per-crop Python
loop, no per-crop host copy). ``roi_align`` with adaptive sampling averages several samples per
output pixel when a box is larger than the crop, so big boxes are anti-aliased like cv2.INTER_AREA.
"""
from __future__ import annotations

import numpy as np
import torch
from torchvision.ops import roi_align

from .boxes import check_frame, clip_boxes


def frame_to_tensor(frame_bgr: np.ndarray, device: torch.device) -> torch.Tensor:
    """(1, 3, H, W) float32 RGB tensor in 0..255 on ``device``.

    On a GPU the uint8 image is copied once and converted there. On the CPU the conversion is
    done by numpy: torch would split these small element-wise ops over its thread pool, whose
    barriers cost milliseconds each when the cores are busy with other nodes.
    """
    frame = check_frame(frame_bgr)
    if device.type == "cpu":
        chw = np.ascontiguousarray(frame[:, :, ::-1].transpose(2, 0, 1), dtype=np.float32)
        return torch.from_numpy(chw).unsqueeze(0)
    t = torch.from_numpy(frame).to(device, non_blocking=True)
    return t.flip(-1).permute(2, 0, 1).unsqueeze(0).float()


def crop_boxes(frame_bgr: np.ndarray, boxes: np.ndarray, size: tuple[int, int], device: torch.device,
               mean: tuple[float, ...] | None = None, std: tuple[float, ...] | None = None) -> torch.Tensor:
    """(N, 3, H, W) RGB crops of ``boxes`` (xyxy pixels, clipped) resized to ``size`` = (H, W).

    Only the part of the frame that holds the boxes (their union plus the 2 px that bilinear
    sampling may touch) is copied and converted, so a few people in a 1080p frame do not pay for
    the whole frame; the crops are the same as from the full frame. With ``mean``/``std`` (RGB,
    on the 0..1 scale) the crops are normalised as ``(x/255 - mean)/std``; without them they stay
    in 0..255.
    """
    frame = check_frame(frame_bgr)
    height, width = frame.shape[:2]
    clipped = clip_boxes(boxes, height, width)
    if len(clipped) == 0:
        return torch.zeros(0, 3, *size, device=device)
    x0, y0 = (max(0, int(np.floor(v)) - 2) for v in clipped[:, :2].min(axis=0))
    x1 = min(width, int(np.ceil(clipped[:, 2].max())) + 2)
    y1 = min(height, int(np.ceil(clipped[:, 3].max())) + 2)
    img = frame_to_tensor(frame[y0:y1, x0:x1], device)
    b = torch.from_numpy(clipped - np.array([x0, y0, x0, y0], dtype=np.float32)).to(device)
    rois = torch.cat([torch.zeros(len(b), 1, device=device), b], dim=1)
    crops = roi_align(img, rois, output_size=size, spatial_scale=1.0, sampling_ratio=-1, aligned=True)
    if mean is None or std is None:
        return crops
    m = torch.tensor(mean, device=device, dtype=crops.dtype).view(1, 3, 1, 1) * 255.0
    s = torch.tensor(std, device=device, dtype=crops.dtype).view(1, 3, 1, 1) * 255.0
    return (crops - m) / s
