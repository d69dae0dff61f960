#!/usr/bin/env bash
# 01 — synchronous generation: POST the request, get the finished record with result URLs.
#
#   BASE_URL  server (default http://127.0.0.1:7866)   API_KEY  X-API-KEY value, if the server has keys
#   MODEL     checkpoint file name (default: the FooocusAPI default juggernautXL_v8Rundiffusion.safetensors)
#   SIZE, STEPS  optional overwrite_width/height and overwrite_step for a quick run
#
# Note the trailing slash of /v1/engine/generate/ (without it the server answers 307; add
# `curl -L` to follow) and the JSON content type (curl -d would send a form otherwise).
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:7866}"
MODEL="${MODEL:-juggernautXL_v8Rundiffusion.safetensors}"
SIZE="${SIZE:--1}"
STEPS="${STEPS:--1}"

curl -sS --fail-with-body -X POST "$BASE_URL/v1/engine/generate/" \
  -H 'Content-Type: application/json' \
  ${API_KEY:+-H "X-API-KEY: $API_KEY"} \
  -d "{\"prompt\": \"a dog playing with a ball\", \"base_model_name\": \"$MODEL\",
       \"overwrite_width\": $SIZE, \"overwrite_height\": $SIZE, \"overwrite_step\": $STEPS}"
echo
