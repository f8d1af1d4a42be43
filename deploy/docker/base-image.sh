#!/usr/bin/env bash
# base-image.sh TAG [PACKAGE,...]: a Debian 12 image made here from Debian's own packages
# (debootstrap --variant=minbase, then docker import) — no image registry needed. It carries the
# machine's CA certificates (the bundle pip is configured with, and the local CAs behind it), so
# that package downloads inside work as they do outside. Built once: the tag's label records a hash
# of its inputs, and a matching image is reused.
# shellcheck source=deploy/local/lib.sh
. "$(dirname "$0")/../local/lib.sh"
# shellcheck source=deploy/docker/engine.sh
. "$(dirname "$0")/engine.sh"

TAG="${1:?usage: base-image.sh TAG [PACKAGE,...]}"
INCLUDE="${2:-ca-certificates}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm

ca_bundle() {
  local bundle
  bundle="$("$PY" -m pip config get global.cert 2>/dev/null || true)"
  [ -f "$bundle" ] || bundle=/etc/ssl/certs/ca-certificates.crt
  echo "$bundle"
}

main() {
  local bundle want have root
  [ -n "${DOCKER_READY:-}" ] || docker_up
  bundle="$(ca_bundle)"
  want="$( { cat "$0" "$bundle"; echo "$INCLUDE $MIRROR $SUITE"; cat /usr/local/share/ca-certificates/*.crt 2>/dev/null; } \
    | sha256sum | cut -c1-16)"
  have="$("$DOCKER" image inspect -f '{{ index .Config.Labels "blazing-sun.inputs" }}' "$TAG" 2>/dev/null || true)"
  if [ "$have" = "$want" ]; then
    say "base image $TAG is up to date"
    [ -n "${DOCKER_READY:-}" ] || docker_down
    return 0
  fi
  say "building base image $TAG (debootstrap $SUITE minbase + $INCLUDE)"
  root="$(mktemp -d /var/tmp/blazing-base.XXXXXX)"
  # shellcheck disable=SC2064 # the path is fixed now
  trap "rm -rf '$root'" EXIT
  debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$root" "$MIRROR" > "$LOG/debootstrap.log" 2>&1 \
    || { tail -n 20 "$LOG/debootstrap.log" >&2; die "debootstrap failed (var/log/debootstrap.log)"; }
  # The machine's CAs: its local ones join Debian's store (update-ca-certificates keeps them across
  # later package installs, and Java's store is built from it), and the exact bundle pip names.
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
  chroot "$root" update-ca-certificates > /dev/null 2>&1 || true
  mkdir -p "$root$(dirname "$bundle")"
  cat "$bundle" > "$root$bundle"
  cp /etc/apt/apt.conf.d/99* "$root/etc/apt/apt.conf.d/" 2>/dev/null || true
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | "$DOCKER" import \
    --change "LABEL blazing-sun.inputs=$want" \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    - "$TAG" > /dev/null
  say "built $TAG"
  [ -n "${DOCKER_READY:-}" ] || docker_down
}

main "$@"
