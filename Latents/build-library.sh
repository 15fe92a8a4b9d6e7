#!/bin/bash
# Needs `swift build -c release` (latentlab and LatentBench).
# Rebuilds the shipped direction library for the default generator (scenes64) from the repository
# root: every file in Latents/ comes out of exactly these commands (results are reproducible from
# the seeds). Takes ~40 min on 2 cores: generating and CLIP-scoring 5 × 4000 images, then ~10 min
# for the regression directions (encoding the paired train photos, rendering 2 × 6000 perturbed codes).
#
#   Latents/build-library.sh [path/to/latentlab] [scratch folder for label CSVs]
set -euo pipefail
LL=${1:-.build/release/latentlab}
# Verification modes (ground-truth labels, agreement) are a benchmark, not a user command.
LB=$(dirname "$LL")/LatentBench
SCRATCH=${2:-$(mktemp -d)}
mkdir -p "$SCRATCH"
cd "$(dirname "$0")/.."

# SeFa: top 10 eigenvectors of the normalised style weights of all conv layers (ToRGB excluded).
$LL directions discover --method sefa --count 10 --out Latents/sefa.safetensors
# GANSpace: top 10 principal components of 10 000 mapped z.
$LL directions discover --method ganspace --count 10 --samples 10000 --seed 0 --out Latents/ganspace.safetensors

# Default ws rows per attribute, chosen by `LatentBench directions layers` (Bench/directions.md).
declare -A ROWS=([size]=0-5 [colour]=0-5 [position]=0-5 [shape]=0-5 [wall]=0-8)

# InterFaceGAN, ground-truth labels: the default model's z[0:9] drive its scene factors, so a
# seed's class is known from z (`LatentBench directions labels`); 20 000 seeds, held-out 30 %.
for a in size colour position shape wall; do
  $LB directions labels --attribute $a --samples 20000 --seed 1000000 --out "$SCRATCH/$a-groundtruth.csv"
  $LL directions discover --method interfacegan --name $a --labels "$SCRATCH/$a-groundtruth.csv" --seed 0 \
      --layers ${ROWS[$a]} --out Latents/interfacegan-$a-groundtruth.safetensors
done
# Conditional (InterFaceGAN §3.3): size without position, position without size.
$LL directions discover --method interfacegan --name size --labels "$SCRATCH/size-groundtruth.csv" --seed 0 --layers 0-5 \
    --condition Latents/interfacegan-position-groundtruth.safetensors:position --out Latents/interfacegan-size-groundtruth-cond.safetensors
$LL directions discover --method interfacegan --name position --labels "$SCRATCH/position-groundtruth.csv" --seed 0 --layers 0-5 \
    --condition Latents/interfacegan-size-groundtruth.safetensors:size --out Latents/interfacegan-position-groundtruth-cond.safetensors

# InterFaceGAN, CLIP zero-shot labels (the default CLIP): 4000 generated images each, the most
# confident 30 % of each side kept; size and shape split at the median score (CLIP calls 93 % of
# the samples "large" and 92 % "cube").
clip() {  # name split prompts…
  local name=$1 split=$2; shift 2
  $LL directions discover --method interfacegan --name $name --samples 4000 --seed 0 --split $split --confident-fraction 0.3 \
      --layers ${ROWS[$name]} "$@" --labels-out "$SCRATCH/$name-clip.csv" --out Latents/interfacegan-$name-clip.safetensors
}
clip colour zero --positive "a red ball" --positive "a red sphere" --positive "a red cube" --positive "a red box" --positive "a red cylinder" --positive "a red cone" \
  --negative "a blue ball" --negative "a blue sphere" --negative "a blue cube" --negative "a blue box" --negative "a blue cylinder" --negative "a blue cone"
clip wall zero --positive "a red wall" --positive "an object in front of a red wall" --positive "a ball with a red background" --positive "a cube with a red background" \
  --negative "a blue wall" --negative "an object in front of a blue wall" --negative "a ball with a blue background" --negative "a cube with a blue background"
clip position zero --positive "a ball on the left" --positive "a sphere on the left" --positive "a cube on the left" --positive "a box on the left" --positive "a cylinder on the left" --positive "a cone on the left" \
  --negative "a ball on the right" --negative "a sphere on the right" --negative "a cube on the right" --negative "a box on the right" --negative "a cylinder on the right" --negative "a cone on the right"
clip size median --positive "a large ball" --positive "a large cube" --positive "a large cylinder" --positive "a large cone" --positive "a big ball" --positive "a big cube" --positive "a huge sphere" --positive "a huge box" \
  --negative "a small ball" --negative "a small cube" --negative "a small cylinder" --negative "a small cone" --negative "a little ball" --negative "a little cube" --negative "a tiny sphere" --negative "a tiny box"
clip shape median --positive "a ball" --positive "a sphere" --positive "a red ball" --positive "a blue ball" --positive "a green sphere" \
  --negative "a cube" --negative "a box" --negative "a block" --negative "a red cube" --negative "a blue box" --negative "a green block"

# Regression directions (the recipes in Edits/ use these): what the generator does around inverted real scenes.
# The 3000 train photos of ../shared/paired are inverted with the embedded encoder; each code is copied twice with a
# random step of W's own covariance (0.5 · (w(z1) − w(z2))/√2) on the given ws rows, and the scene factors of every
# copy's render (object height, centre x, object and wall hue as cos/sin; Bench/LatentVerification/RecipeScore.swift)
# are regressed on the codes; each direction changes its factor and holds the other five. ~10 min on 2 cores.
# The codes come from the session-3 embedded encoder (commit cd4149d, 27.69 dB), not today's fine-tuned one (28.11 dB):
# directions fitted around the newer encoder's codes edit W and PTI latents less well (recipes on PTI latents 63/96
# instead of 69, W 57 instead of 66, even the new encoder's own codes 68 instead of 70; Bench/pti.md), so the shipped files keep
# the older codes and this reads that encoder from the repository's history.
PAIRED=${PAIRED:-../shared/paired/scenes/train/photo}
ENCODER_REV=cd4149d
git show "$ENCODER_REV:Sources/LatentEncoders/Resources/scenes64-encoder.safetensors" > "$SCRATCH/scenes64-encoder-$ENCODER_REV.safetensors" || {
  echo "build-library.sh: needs the git history (commit $ENCODER_REV) for the encoder the regression codes come from" >&2; exit 1; }
$LL project "$PAIRED" --method encoder --encoder "$SCRATCH/scenes64-encoder-$ENCODER_REV.safetensors" --batch 16 --out "$SCRATCH/train-enc"
$LB scene-factors --latents "$SCRATCH/train-enc" --perturb 0.5 --copies 2 --rows 0-3 --seed 300000 \
    --out-latents "$SCRATCH/pert-layout" --out "$SCRATCH/pert-layout.csv"
$LB scene-factors --latents "$SCRATCH/train-enc" --perturb 0.5 --copies 2 --rows 0-9 --seed 100000 \
    --out-latents "$SCRATCH/pert-all" --out "$SCRATCH/pert-all.csv"
$LL directions discover --method regression --latents "$SCRATCH/pert-layout" --labels "$SCRATCH/pert-layout.csv" --layers 0-3 --seed 0 \
    --out Latents/regression-layout.safetensors
$LL directions discover --method regression --latents "$SCRATCH/pert-all" --labels "$SCRATCH/pert-all.csv" --layers 0-9 --seed 0 \
    --out Latents/regression-colour.safetensors

# How often the CLIP labels agree with the ground truth.
for a in size colour position shape wall; do
  $LB directions csv-agreement --labels "$SCRATCH/$a-clip.csv" --attribute $a
done
$LL directions list Latents
