#!/bin/sh
# The default user, password and virtual host from RABBITMQ_DEFAULT_USER / _PASS / _VHOST, as the
# public image takes them: written to the main configuration file, which RabbitMQ reads before
# /etc/rabbitmq/conf.d/ (where the compose file mounts its own settings).
set -eu
umask 077
{
  [ -z "${RABBITMQ_DEFAULT_USER:-}" ] || echo "default_user = $RABBITMQ_DEFAULT_USER"
  [ -z "${RABBITMQ_DEFAULT_PASS:-}" ] || echo "default_pass = $RABBITMQ_DEFAULT_PASS"
  [ -z "${RABBITMQ_DEFAULT_VHOST:-}" ] || echo "default_vhost = $RABBITMQ_DEFAULT_VHOST"
} > /etc/rabbitmq/rabbitmq.conf
exec "$@"
