#!/bin/sh
# Removes onnxruntime-node's binaries for other platforms from node_modules (about 240 MB of
# the package's 288 MB): the npm tarball ships darwin, win32 and both Linux architectures.
# Usage: prune-onnxruntime.sh NODE_MODULES_DIR [amd64|arm64]
set -eu

modules="${1:?usage: prune-onnxruntime.sh NODE_MODULES_DIR [amd64|arm64]}"
arch="${2:-$(uname -m)}"
case "$arch" in
  amd64 | x86_64) keep=x64 ;;
  arm64 | aarch64) keep=arm64 ;;
  *)
    echo "prune-onnxruntime: unsupported architecture $arch" >&2
    exit 1
    ;;
esac

bin="$modules/onnxruntime-node/bin/napi-v6"
if [ ! -d "$bin" ]; then
  echo "prune-onnxruntime: $bin not found" >&2
  exit 1
fi
rm -rf "$bin/darwin" "$bin/win32"
for dir in "$bin"/linux/*; do
  [ "$(basename "$dir")" = "$keep" ] || rm -rf "$dir"
done
test -f "$bin/linux/$keep/libonnxruntime.so.1"
echo "prune-onnxruntime: kept $bin/linux/$keep"
