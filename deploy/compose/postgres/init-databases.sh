#!/usr/bin/env bash
# First start of the cluster only (docker-entrypoint-initdb.d): one role and one database per
# service — each service owns its database and sees no other.
set -euo pipefail

for name in ${SERVICE_DATABASES:?}; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v name="$name" -v password="${SERVICE_DB_PASSWORD:?}_${name}" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'name', :'password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') \gexec
SQL
done
