#!/usr/bin/env bash
# The main job on the embedded default generator (scenes64): set up, build, generate a few
# samples, then batch-project a folder of real scenes (../shared/testdata/scenes when present,
# else the generated samples) into W+ and report the reconstruction quality.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product latentlab
bin=.build/release/latentlab
out=${OUT:-out}
$bin generate --seeds 0-7 --out "$out/generated"
input="$out/generated"
[ -d ../shared/testdata/scenes ] && input=../shared/testdata/scenes
$bin project "$input" --out "$out/projected" --batch 8 --steps "${STEPS:-500}"
echo "summary: $out/projected/summary.csv"
