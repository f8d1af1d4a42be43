#!/usr/bin/env bash
# make images: every image the local compose run needs, built here without an image registry.
#   1. The local base: Debian 12 from Debian's own packages (deploy/docker/base-image.sh: debootstrap
#      minbase with python3, python3-venv and the machine's CA bundle, then docker import), plus the
#      machine's TLS environment, so that package downloads during builds work as they do outside.
#   2. Every service of deploy/services.tsv from deploy/docker/service.Dockerfile on that base
#      (PYTHON_IMAGE; target prod), tagged blazing-sun/<service>:local.
#   3. The infrastructure the compose file needs, from Debian's packages on the same base
#      (deploy/docker/debian/<name>/Dockerfile, context deploy/), tagged blazing-sun/<name>:local.
# BuildKit's cache makes a second run with nothing changed a matter of seconds. Logs: var/log/images/.
#   [IMAGE_TAG=local] deploy/docker/images.sh [NAME...]    (default: all of them)
# shellcheck source=deploy/local/lib.sh
. "$(dirname "$0")/../local/lib.sh"
# shellcheck source=deploy/docker/engine.sh
. "$ROOT/deploy/docker/engine.sh"

TAG="${IMAGE_TAG:-local}"  # deploy/swarm/swarm.sh builds its own (swarm), which a compose run leaves alone
IMPORTED=blazing-sun/debian12-python:import  # what debootstrap made
BASE=blazing-sun/debian12-python:$TAG         # that, with the machine's TLS environment
INFRA=(postgres redis rabbitmq kafka nginx prometheus smtp-sink)
LABEL=blazing-sun.images=local  # on every image built here: the replaced ones are pruned by it

# build NAME DOCKER-BUILD-ARGS...: one image, its log in var/log/images/NAME.log.
build() {
  local name="$1" started=$SECONDS log="$LOG/images/$1.log"; shift
  DOCKER_BUILDKIT=1 "$DOCKER" build --progress=plain --label "$LABEL" "$@" > "$log" 2>&1 \
    || { tail -n 40 "$log" >&2; die "building $name failed (var/log/images/$name.log)"; }
  printf '   %-12s %4ss\n' "$name" "$((SECONDS - started))"
}

# The base's Dockerfile: the machine's TLS variables (those naming a file or directory that exists,
# as for fresh-check's containers), and no package starting a daemon at install time (as in the
# public Debian images).
base_dockerfile() {
  local flag pair
  echo "FROM $IMPORTED"
  while read -r flag && read -r pair; do
    [ "$flag" = -e ] && printf 'ENV %s="%s"\n' "${pair%%=*}" "${pair#*=}"
  done < <(tls_env_args)
  printf '%s\n' "RUN printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d"
}

base() {
  DOCKER_READY=1 "$ROOT/deploy/docker/base-image.sh" "$IMPORTED" ca-certificates,python3,python3-venv
  base_dockerfile | build base -t "$BASE" -
}

service_image() {
  local name="$1" port
  port="$(service_rows | awk -F'\t' -v n="$name" '$1 == n { print $2 }')"
  [ -n "$port" ] || die "unknown service '$name' (not in deploy/services.tsv)"
  build "$name" -f "$ROOT/deploy/docker/service.Dockerfile" --target prod \
    --build-arg "PYTHON_IMAGE=$BASE" --build-arg "SERVICE=$name" --build-arg "PORT=$port" \
    -t "blazing-sun/$name:$TAG" "$ROOT"
}

infra_image() {
  build "$1" -f "$ROOT/deploy/docker/debian/$1/Dockerfile" --build-arg "DEBIAN_IMAGE=$BASE" \
    -t "blazing-sun/$1:$TAG" "$ROOT/deploy"
}

main() {
  local started=$SECONDS names=("$@") name
  [ "${#names[@]}" -gt 0 ] || mapfile -t names < <(service_rows | cut -f1; printf '%s\n' "${INFRA[@]}")
  mkdir -p "$LOG/images" "$RUN"
  trap docker_down EXIT
  docker_up
  say "images: the local base ($BASE)"
  base
  say "images: ${names[*]}"
  for name in "${names[@]}"; do
    if [[ " ${INFRA[*]} " == *" $name "* ]]; then infra_image "$name"; else service_image "$name"; fi
  done
  # the images a rebuild replaced (untagged now), so that disk use stays bounded; the build cache stays
  "$DOCKER" image prune -f --filter "label=$LABEL" > /dev/null
  say "images built in $((SECONDS - started)) s"
}

main "$@"
