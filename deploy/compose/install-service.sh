#!/usr/bin/env bash
# Installs one service and the shared libraries into a virtual environment: what every service
# image runs at build time (and what make test runs in a fresh environment to check it).
#   deploy/compose/install-service.sh SERVICE VENV [dev]
#   deploy/compose/install-service.sh --requirements VENV [dev]   (the pinned dependencies only: the
#     layer every service's image shares, built before the service's own files are copied in)
set -euo pipefail

service="${1:?usage: install-service.sh SERVICE|--requirements VENV [dev]}"
venv="${2:?usage: install-service.sh SERVICE|--requirements VENV [dev]}"
mode="${3:-prod}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

if [ "$service" != --requirements ] && [ ! -f "$root/services/$service/pyproject.toml" ]; then
  echo "unknown service: $service" >&2; exit 2
fi
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --no-cache-dir --disable-pip-version-check -r "$root/requirements/bootstrap.txt"
"$venv/bin/uv" pip install --quiet --no-cache --python "$venv/bin/python" -r "$root/requirements/runtime.txt"
if [ "$mode" = dev ]; then
  "$venv/bin/uv" pip install --quiet --no-cache --python "$venv/bin/python" watchfiles
fi
[ "$service" != --requirements ] || exit 0
# editable: each package keeps its files (migrations, templates) next to its source
"$venv/bin/uv" pip install --quiet --no-cache --no-deps --python "$venv/bin/python" \
  -e "$root/libs/app" -e "$root/libs/contracts" -e "$root/libs/es" -e "$root/libs/service" -e "$root/libs/commands" \
  -e "$root/services/$service"
