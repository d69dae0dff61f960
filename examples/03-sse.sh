#!/usr/bin/env bash
# 03 — streaming: "stream_output": true answers text/event-stream. Each event is a
# `data: {"progress": …, "preview": …, "message": …, "images": […]}` line (followed by an
# empty `data: ` line, as FooocusAPI frames it); the last one says "Finished" and lists the
# image URLs. `id:` lines let a client resume at GET /tasks/{id}/events with Last-Event-ID.
# Same variables as 01-sync.sh. Previews are long base64 strings: this script cuts them.
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:7866}"
MODEL="${MODEL:-juggernautXL_v8Rundiffusion.safetensors}"
SIZE="${SIZE:--1}"
STEPS="${STEPS:--1}"

curl -sS -N --fail-with-body -X POST "$BASE_URL/v1/engine/generate/" \
  -H 'Content-Type: application/json' \
  ${API_KEY:+-H "X-API-KEY: $API_KEY"} \
  -d "{\"prompt\": \"a watercolor of a fox\", \"base_model_name\": \"$MODEL\", \"stream_output\": true,
       \"overwrite_width\": $SIZE, \"overwrite_height\": $SIZE, \"overwrite_step\": $STEPS}" |
  tr -d '\r' | grep '^data: {' | sed -E 's/("preview": "data:image\/png;base64,)[^"]*"/\1…"/'
