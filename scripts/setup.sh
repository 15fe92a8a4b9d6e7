#!/usr/bin/env bash
# Installs the Debian packages LatentLab links against (when missing). Safe to run repeatedly.
set -euo pipefail
pkgs=(libopenblas-dev libfftw3-dev libpng-dev libjpeg-dev zlib1g-dev pkg-config)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
for pc in openblas fftw3f libpng libjpeg zlib; do
  pkg-config --exists "$pc" || { echo "setup: pkg-config cannot find $pc" >&2; exit 1; }
done
echo "setup: native dependencies present"
