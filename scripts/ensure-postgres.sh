#!/usr/bin/env bash
# Make sure a local PostgreSQL server is running and a test database exists.
# Installs the Debian packages when missing (needs root, as on CI).
# Usage: scripts/ensure-postgres.sh DBNAME ; prints nothing on success but a status line.
set -euo pipefail
db="${1:-plaza_test}"
user=plaza
password=plaza

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "ensure-postgres: PostgreSQL server not installed and not root; PostgreSQL tests will not run" >&2
    exit 0
  fi
  echo "ensure-postgres: installing PostgreSQL (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi

version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -q "^$version main$"; then
  pg_createcluster "$version" main >/dev/null
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $4}' | grep -q online; then
  pg_ctlcluster "$version" main start
fi
for _ in $(seq 1 50); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 0.2
done

as_postgres() { if [ "$(id -u)" = 0 ]; then su postgres -c "$1"; else sh -c "$1"; fi; }
as_postgres "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='$user'\" | grep -q 1 || psql -qc \"CREATE ROLE $user LOGIN SUPERUSER PASSWORD '$password'\"" >/dev/null
as_postgres "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='$db'\" | grep -q 1 || createdb -O $user $db"
echo "ensure-postgres: postgresql+psycopg://$user:***@127.0.0.1:5432/$db ready (PostgreSQL $version)"
