#!/bin/sh
# Build-time check in the CUDA image: every shared library the CUDA provider links against
# (cuBLAS, cuDNN, cuFFT, cuRAND, the CUDA runtime) must resolve inside the image. Only
# libcuda.so.1 may be missing: the NVIDIA container runtime mounts it from the host driver.
# Usage: check-cuda-libs.sh NODE_MODULES_DIR
set -eu

lib="${1:?usage: check-cuda-libs.sh NODE_MODULES_DIR}/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so"
missing="$(ldd "$lib" | grep 'not found' | grep -v 'libcuda\.so\.1' || true)"
if [ -n "$missing" ]; then
  echo "check-cuda-libs: unresolved libraries for $lib:" >&2
  echo "$missing" >&2
  exit 1
fi
echo "check-cuda-libs: all CUDA provider dependencies resolve"
