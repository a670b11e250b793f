#!/usr/bin/env bash
# Install (from Debian's packages, when missing) and start the PostgreSQL and Redis servers the
# CI test run uses, on loopback. Idempotent: a server already answering is left as it is.
# Prints the DATABASE_URL base and REDIS_URL on its standard output, two lines and nothing else:
# everything the tools it calls print (pg_ctlcluster's "Removed stale pid file." after a crash,
# apt) goes to standard error.
set -euo pipefail
exec 3>&1 1>&2

PG_PASSWORD="${CI_PG_PASSWORD:-kafkaml-ci}"
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# PostgreSQL ------------------------------------------------------------------------------
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    echo "services: installing PostgreSQL from Debian's packages" >&2
    apt_install postgresql
  fi
  version="$(ls /etc/postgresql | sort -V | tail -n 1)"
  if [ ! -d "/etc/postgresql/$version/main" ]; then
    $SUDO pg_createcluster "$version" main >/dev/null
  fi
  # A server killed uncleanly (a CI run stopped mid-way) leaves its pid and socket lock files;
  # where its pid lives on as a zombie or was reused, PostgreSQL refuses to start. With no live
  # postgres process on the machine, those files are stale: remove them.
  if [ "$(ps -C postgres -o stat= | grep -vc '^Z' || true)" = 0 ]; then
    $SUDO rm -f /var/run/postgresql/.s.PGSQL.5432.lock "/var/lib/postgresql/$version/main/postmaster.pid"
  fi
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start
fi
for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
pg_isready -h 127.0.0.1 -p 5432 -q || { echo "services: PostgreSQL did not start" >&2; exit 1; }
# The CI role: postgres with a password over TCP (Debian's pg_hba asks for scram on loopback).
if [ "$(id -u)" = 0 ]; then
  su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD '${PG_PASSWORD}'\"" >/dev/null
fi

# Redis -----------------------------------------------------------------------------------
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  if ! command -v redis-server >/dev/null; then
    echo "services: installing Redis from Debian's packages" >&2
    apt_install redis-server
  fi
  mkdir -p /tmp/kafkaml-ci-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/kafkaml-ci-redis --logfile /tmp/kafkaml-ci-redis/redis.log
fi
for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { echo "services: Redis did not start" >&2; exit 1; }

# The URLs only once a login with them works.
PGPASSWORD="$PG_PASSWORD" psql -h 127.0.0.1 -U postgres -d postgres -q -c "SELECT 1" >/dev/null \
  || { echo "services: PostgreSQL refused the CI role's password" >&2; exit 1; }
echo "postgres://postgres:${PG_PASSWORD}@127.0.0.1:5432" >&3
echo "redis://127.0.0.1:6379/0" >&3
