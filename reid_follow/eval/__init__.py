"""ReID evaluation: distances, CMC / mAP under the multi-camera protocol, re-ranking, plots."""
