#!/bin/sh
# Build-time only: fetches onnxruntime's CUDA execution provider libraries for the installed
# onnxruntime-node and puts them next to libonnxruntime.so.1, where onnxruntime-node loads
# them from. It runs the package's own installer with ONNXRUNTIME_NODE_INSTALL=cuda12, which
# downloads the NuGet package Microsoft.ML.OnnxRuntime.Gpu.Linux of the same version (1.30.0
# for onnxruntime-node 1.30.0) and extracts runtimes/linux-x64/native/*.so; so the provider
# always matches the binding. Nothing is downloaded when the image runs.
# Usage: fetch-ort-cuda.sh NODE_MODULES_DIR [SHA256_OF_libonnxruntime_providers_cuda.so]
set -eu

modules="${1:?usage: fetch-ort-cuda.sh NODE_MODULES_DIR [SHA256]}"
expected_sha256="${2:-}"
pkg="$modules/onnxruntime-node"
dest="$pkg/bin/napi-v6/linux/x64"

ONNXRUNTIME_NODE_INSTALL=cuda12 node "$pkg/script/install.js"

for lib in libonnxruntime_providers_cuda.so libonnxruntime_providers_shared.so; do
  if [ ! -s "$dest/$lib" ]; then
    echo "fetch-ort-cuda: $dest/$lib is missing after the install" >&2
    exit 1
  fi
done
# TensorRT's provider needs TensorRT libraries the image does not carry; CUDA is what we use.
rm -f "$dest/libonnxruntime_providers_tensorrt.so"

if [ -n "$expected_sha256" ]; then
  echo "$expected_sha256  $dest/libonnxruntime_providers_cuda.so" | sha256sum -c -
fi
ls -l "$dest"
