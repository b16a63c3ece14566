#!/usr/bin/env bash
# A throwaway PostgreSQL server for the store tests: a fresh cluster in a temporary
# directory, listening on 127.0.0.1 only, on a free port, with a password-authenticated
# user `hubflow` that owns a database `hubflow`. Exports DATABASE_URL for it, and stops
# and removes the cluster when the shell exits.
#
#   . .ci/postgres.sh              # sourced (as .ci/run does): DATABASE_URL stays set
#                                  # until the sourcing shell exits
#   bash .ci/postgres.sh CMD ARGS  # runs CMD with DATABASE_URL set, then stops the server
#   bash .ci/postgres.sh           # starts, checks the login, stops: a self-test
#
# Uses the newest server found under /usr/lib/postgresql/*/bin, or installs the
# distribution's `postgresql` package when there is none (as root). initdb refuses to run
# as root, so as root the cluster belongs to the `postgres` user.

hubflow_pg_fail() {
  echo "postgres.sh: $*" >&2
  return 1
}

# The directory of the newest installed server's binaries, if any (by version number:
# the glob would put 10 before 9).
hubflow_pg_bindir() {
  local dir found=""
  while read -r dir; do
    [[ -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]] && found="$dir"
  done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k4,4n)
  echo "$found"
}

hubflow_pg_install() {
  [[ "$(id -u)" == 0 ]] || hubflow_pg_fail "no PostgreSQL server found under /usr/lib/postgresql, and installing one needs root" || return 1
  echo "postgres.sh: installing PostgreSQL" >&2
  export DEBIAN_FRONTEND=noninteractive
  # The package would create and start a cluster of its own on port 5432; the tests use
  # only the throwaway one below, so keep the package from creating or starting any.
  mkdir -p /etc/postgresql-common
  [[ -e /etc/postgresql-common/createcluster.conf ]] ||
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
  local policy=/usr/sbin/policy-rc.d placed=""
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && placed=1
  fi
  local status=0
  apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2 || status=$?
  [[ -n "$placed" ]] && rm -f "$policy"
  return "$status"
}

# Runs a command as the cluster's owner: `postgres` when we are root, else ourselves.
hubflow_pg_as_owner() {
  if [[ "$(id -u)" == 0 ]]; then
    if command -v runuser >/dev/null; then
      runuser -u postgres -- "$@"
    else
      su postgres -s /bin/sh -c '"$0" "$@"' -- "$@"
    fi
  else
    "$@"
  fi
}

# A TCP port on 127.0.0.1 that nothing listens on right now.
hubflow_pg_free_port() {
  local port tries
  for tries in $(seq 1 50); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  hubflow_pg_fail "found no free port"
}

hubflow_pg_stop() {
  if [[ -n "${HUBFLOW_PG_DIR:-}" && -d "$HUBFLOW_PG_DIR" ]]; then
    if [[ -f "$HUBFLOW_PG_DIR/data/postmaster.pid" ]]; then
      hubflow_pg_as_owner "$HUBFLOW_PG_BIN/pg_ctl" -D "$HUBFLOW_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 ||
        hubflow_pg_as_owner "$HUBFLOW_PG_BIN/pg_ctl" -D "$HUBFLOW_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$HUBFLOW_PG_DIR"
  fi
  unset HUBFLOW_PG_DIR DATABASE_URL
}

hubflow_pg_start() {
  HUBFLOW_PG_BIN="$(hubflow_pg_bindir)"
  if [[ -z "$HUBFLOW_PG_BIN" ]]; then
    hubflow_pg_install || return 1
    HUBFLOW_PG_BIN="$(hubflow_pg_bindir)"
    [[ -n "$HUBFLOW_PG_BIN" ]] || hubflow_pg_fail "the postgresql package brought no server binaries" || return 1
  fi

  HUBFLOW_PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/hubflow-pg.XXXXXX")"
  chmod 700 "$HUBFLOW_PG_DIR"
  if [[ "$(id -u)" == 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /bin/sh postgres
    chown postgres: "$HUBFLOW_PG_DIR"
  fi

  # A fresh password per run; it reaches initdb and psql through files and stdin only.
  local password
  password="$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')"

  hubflow_pg_as_owner "$HUBFLOW_PG_BIN/initdb" -D "$HUBFLOW_PG_DIR/data" \
    --username=postgres --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C --no-instructions >"$HUBFLOW_PG_DIR/initdb.log" 2>&1 ||
    { cat "$HUBFLOW_PG_DIR/initdb.log" >&2; hubflow_pg_fail "initdb failed"; return 1; }

  # Local (socket) logins are trusted, but the socket lives in the cluster's private
  # directory; TCP logins, the tests' only way in, need the password.
  local port started="" attempt
  for attempt in 1 2 3 4 5; do
    port="$(hubflow_pg_free_port)" || return 1
    if hubflow_pg_as_owner "$HUBFLOW_PG_BIN/pg_ctl" -D "$HUBFLOW_PG_DIR/data" \
      -l "$HUBFLOW_PG_DIR/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$HUBFLOW_PG_DIR" \
      start >/dev/null; then
      started=yes
      break
    fi
    # Another process may have taken the port between the check and the start.
  done
  [[ -n "$started" ]] || { cat "$HUBFLOW_PG_DIR/server.log" >&2; hubflow_pg_fail "the server did not start"; return 1; }

  hubflow_pg_as_owner "$HUBFLOW_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$HUBFLOW_PG_DIR" -p "$port" \
    -U postgres -d postgres >/dev/null <<SQL || { hubflow_pg_fail "creating the test user failed"; return 1; }
CREATE ROLE hubflow LOGIN PASSWORD '$password';
CREATE DATABASE hubflow OWNER hubflow;
SQL

  export DATABASE_URL="postgres://hubflow:$password@127.0.0.1:$port/hubflow"
  echo "postgres.sh: PostgreSQL $("$HUBFLOW_PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (cluster in $HUBFLOW_PG_DIR)" >&2
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  # Run as a script: start, run the command (or check the login), stop.
  set -euo pipefail
  trap hubflow_pg_stop EXIT
  hubflow_pg_start
  if [[ $# -gt 0 ]]; then
    "$@"
  else
    "$HUBFLOW_PG_BIN/psql" -X -At "$DATABASE_URL" \
      -c "SELECT 'logged in as ' || current_user || ' over TCP with the password'"
    if PGCONNECT_TIMEOUT=5 "$HUBFLOW_PG_BIN/psql" -X -At -w \
      "postgres://hubflow:wrong@${DATABASE_URL#*@}" -c 'SELECT 1' >/dev/null 2>&1; then
      hubflow_pg_fail "a wrong password was accepted"
    fi
    echo "a wrong password is refused"
  fi
else
  # Sourced: the server lives as long as the sourcing shell.
  trap hubflow_pg_stop EXIT
  hubflow_pg_start
fi
