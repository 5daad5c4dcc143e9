#!/usr/bin/env bash
# Rebuild the bundled default model from scratch, exactly as shipped (CPU; see docs/BUNDLED_MODEL.md).
# Needs the dev install (make test creates it) and VGG-16 weights in $NST_VGG_WEIGHTS.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
: "${NST_VGG_WEIGHTS:=$(realpath ../shared/weights/vgg16_imagenet_features.pth)}"
export NST_VGG_WEIGHTS
$BIN/python scripts/prepare_data.py --out data/content
$BIN/nst train --style nst/assets/style_swirl.png --content data/content -o runs/swirl \
  --model base_channels=24 --model num_residual=5 --model variant=fast --steps 1000 --batch-size 4 --image-size 128 \
  --style-size 256 --style-weight 2 --tv-weight 10 --sample-every 100 --checkpoint-every 100 --seed 0 --force
$BIN/nst export runs/swirl/checkpoint.pt -o nst/assets/default_model.onnx --force
$BIN/python scripts/before_after.py nst/assets/default_model.onnx data/heldout -o docs/images/bundled_before_after.png
cp runs/swirl/loss_curve.png docs/images/bundled_loss_curve.png
