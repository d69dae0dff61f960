#!/usr/bin/env bash
# Lints what ships the deployment: shell scripts (shellcheck), the chart's hand-written YAML
# (yamllint) and the Dockerfiles (dockerfile-utils' validator plus the project's rules, via
# test/chart/dockerfiles.test.ts). Needs the Debian packages shellcheck and yamllint.
# Usage: scripts/lint-deploy.sh        (exits non-zero on the first tool that finds a problem)
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v yamllint >/dev/null 2>&1 || missing+=(yamllint)
if [ ${#missing[@]} -gt 0 ]; then
  echo "lint-deploy: missing ${missing[*]} (apt-get install -y ${missing[*]})" >&2
  exit 2
fi

mapfile -t shell_scripts < <(find scripts -type f -name '*.sh' | sort)
echo "shellcheck: ${#shell_scripts[@]} scripts"
shellcheck --severity=style "${shell_scripts[@]}"

# Templates are Go templates, not YAML; everything else in the chart is plain YAML.
mapfile -t yaml_files < <(find charts -type f \( -name '*.yaml' -o -name '*.yml' \) -not -path '*/templates/*' | sort)
echo "yamllint: ${#yaml_files[@]} files"
yamllint --strict -d '{extends: default, rules: {line-length: {max: 160}, document-start: disable, comments: {min-spaces-from-content: 1}, truthy: {check-keys: false}}}' "${yaml_files[@]}"

echo "dockerfiles: dockerfile-utils validator and project rules"
npx vitest run test/chart/dockerfiles.test.ts --reporter=dot
