#!/usr/bin/env bash
# Installs the Debian packages the project needs: OpenBLAS (BLAS + LAPACK), libpng, zlib,
# Cairo (with fontconfig and FreeType) and the DejaVu fonts for the figures,
# the FashionMNIST data set (gzip IDX files under /usr/share/datasets/fashion-mnist), and OpenMPI
# (mpirun and libmpi.so.40, loaded by `idl ... --distributed` only).
set -euo pipefail
packages=(libopenblas-dev libpng-dev zlib1g-dev libcairo2-dev fonts-dejavu-core pkg-config dataset-fashion-mnist openmpi-bin libopenmpi-dev)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "bootstrap: all system packages present (${packages[*]})"
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "bootstrap: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
