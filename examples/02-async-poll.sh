#!/usr/bin/env bash
# 02 — asynchronous generation: submit with "async_process": true (the answer comes at once
# with task_status "pending"), then poll GET /tasks/{task_id} until the task is done.
# Same variables as 01-sync.sh. Needs only curl and sed.
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:7866}"
MODEL="${MODEL:-juggernautXL_v8Rundiffusion.safetensors}"
SIZE="${SIZE:--1}"
STEPS="${STEPS:--1}"
auth=(${API_KEY:+-H "X-API-KEY: $API_KEY"})

ack=$(curl -sS --fail-with-body -X POST "$BASE_URL/v1/engine/generate/" \
  -H 'Content-Type: application/json' "${auth[@]}" \
  -d "{\"prompt\": \"a lighthouse at dusk\", \"base_model_name\": \"$MODEL\", \"async_process\": true,
       \"overwrite_width\": $SIZE, \"overwrite_height\": $SIZE, \"overwrite_step\": $STEPS}")
task_id=$(printf '%s' "$ack" | sed -n 's/.*"task_id":"\([0-9a-f]*\)".*/\1/p')
echo "submitted $task_id"

for _ in $(seq 1 600); do
  record=$(curl -sS --fail-with-body "$BASE_URL/tasks/$task_id" "${auth[@]}")
  status=$(printf '%s' "$record" | sed -n 's/.*"task_status":\(null\|"[a-z]*"\).*/\1/p' | tr -d '"')
  case "$status" in
    finished|stop|failed|canceled)
      echo "status: $status"
      printf '%s' "$record" | sed -n 's/.*"result":\(\[[^]]*\]\).*/\1/p'
      exit 0 ;;
  esac
  echo "status: ${status:-queued}"
  sleep 1
done
echo "gave up waiting" >&2
exit 1
