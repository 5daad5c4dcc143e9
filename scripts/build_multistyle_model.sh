#!/usr/bin/env bash
# Rebuild the bundled multi-style default model (CIN, 5 named styles) and its reports, exactly as
# shipped (CPU; see docs/MULTISTYLE_DEFAULT.md). Needs the dev install and VGG-16 weights.
#
#   scripts/build_multistyle_model.sh            # styles, train (or continue), export, figures, eval
#   STEPS=2000 scripts/build_multistyle_model.sh # train further: resumes runs/cin4/run to STEPS
#
# Training resumes when runs/cin4/run/checkpoint.pt exists (--resume needs the same arguments;
# only --steps may change), so an interrupted build is continued by running this again.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
: "${NST_VGG_WEIGHTS:=$(realpath ../shared/weights/vgg16_imagenet_features.pth)}"
export NST_VGG_WEIGHTS
STEPS=${STEPS:-150}
STYLES="swirl mosaic waves dots hatching"
RUN=runs/cin4/run
OUT=docs/quality/multistyle_default

$BIN/python scripts/prepare_data.py --out data/content
$BIN/python scripts/make_styles.py --out nst/assets     # style_swirl.png: scripts/make_style_image.py
# the checkpoint names styles by file stem, so train on copies named NAME.png
mkdir -p runs/cin4/styles
STYLE_ARGS=()
for s in $STYLES; do
  cp nst/assets/style_$s.png runs/cin4/styles/$s.png
  STYLE_ARGS+=(--style runs/cin4/styles/$s.png)
done
RESUME=--force
[ -f $RUN/checkpoint.pt ] && RESUME=--resume
nice -n 10 $BIN/nst train --family cin "${STYLE_ARGS[@]}" --content data/content -o $RUN \
  --model base_channels=16 --model num_residual=5 --steps "$STEPS" --batch-size 4 --image-size 128 \
  --style-size 256 --style-weight 3 --tv-weight 10 --sample-every 100 --checkpoint-every 50 --seed 0 \
  --no-progress $RESUME
$BIN/nst export $RUN/checkpoint.pt -o nst/assets/multistyle_model.onnx --force
$BIN/nst info nst/assets/multistyle_model.onnx

# figures
cp $RUN/loss_curve.png docs/images/multistyle_default_loss_curve.png
$BIN/python scripts/multistyle_grid.py nst/assets/multistyle_model.onnx data/heldout --style-dir nst/assets \
  -o docs/images/multistyle_default_grid.jpg --height 160
$BIN/nst sheet nst/assets/sample_chelsea.jpg -o docs/images/multistyle_default_sheet.jpg --tile-size 160 \
  --columns 3 --force

# quality: each style frozen into a single-style graph (nst eval scores one-input models), then
# scored against Gatys L-BFGS at 128 px on the three held-out photos (128 px for the CPU budget:
# Gatys-100 took 2-21 min per photo on the shared 2-core machine)
mkdir -p $OUT
for s in ${EVAL_STYLES:-$STYLES}; do
  $BIN/python scripts/bake_style.py nst/assets/multistyle_model.onnx --style $s -o runs/cin4/baked/$s.onnx
  nice -n 10 $BIN/nst eval runs/cin4/baked/$s.onnx --content data/heldout --style nst/assets/style_$s.png \
    --size 128 --iters 50,100 --limit "${EVAL_LIMIT:-3}" --gatys-cache runs/gatys_cache --no-progress --force --json -o $OUT/$s \
    | tee $OUT/$s.summary.json
done
