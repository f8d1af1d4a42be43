#!/usr/bin/env bash
# What the public nginx image's entrypoint does for the compose file, on Debian's nginx: run the
# scripts in /docker-entrypoint.d/ (the self-signed certificate), then render each template of
# /etc/nginx/templates/ into /etc/nginx/conf.d/ with envsubst — only the variables that are set, so
# that nginx's own $variables stay. nginx 1.22 spells HTTP/2 on the listen line ("listen 443 ssl
# http2;"), not with the "http2 on;" of 1.25: the rendered file is rewritten to that spelling.
set -euo pipefail

for script in /docker-entrypoint.d/*.sh; do
  [ -e "$script" ] && sh "$script"
done
defined="$(env | cut -d= -f1 | sed 's/.*/${&}/' | tr '\n' ' ')"
for template in /etc/nginx/templates/*.template; do
  [ -e "$template" ] || continue
  out="/etc/nginx/conf.d/$(basename "$template" .template)"
  envsubst "$defined" < "$template" > "$out"
  if grep -Eq '^\s*http2\s+on;' "$out"; then
    sed -Ei -e '/^\s*http2\s+on;/d' -e 's/^(\s*listen\s+[^;]*\bssl)\s*;/\1 http2;/' "$out"
  fi
done
exec "$@"
