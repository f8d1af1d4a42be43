#!/bin/sh
# A self-signed certificate on first start (mount real ones at /etc/nginx/ssl to replace it).
set -eu
if [ ! -s /etc/nginx/ssl/server.crt ]; then
  mkdir -p /etc/nginx/ssl
  openssl req -x509 -nodes -newkey rsa:2048 -days 365 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout /etc/nginx/ssl/server.key -out /etc/nginx/ssl/server.crt 2>/dev/null
  chmod 600 /etc/nginx/ssl/server.key
fi
