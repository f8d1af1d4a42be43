#!/bin/sh
# The public redis image is built with protected mode off, which lets other containers connect while
# the default user is merely disabled; the compose file's ACL user with its password is what guards
# the server. Debian's build keeps it on, so it is turned off here for redis-server.
set -eu
if [ "${1:-}" = redis-server ]; then
  shift
  set -- redis-server --protected-mode no "$@"
fi
exec "$@"
