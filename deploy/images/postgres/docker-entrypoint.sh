#!/usr/bin/env bash
# Entrypoint of textclf-base/postgres:15, modelled on the official postgres image's:
# - a first argument that is an option is postgres's (`-c work_mem=64MB` runs `postgres -c ...`);
# - started as root, it gives PGDATA to postgres and runs itself again as postgres;
# - an empty PGDATA is initialised once from POSTGRES_USER (default postgres), POSTGRES_PASSWORD
#   (or the *_FILE variants), POSTGRES_DB (default: the user's name), POSTGRES_INITDB_ARGS,
#   POSTGRES_INITDB_WALDIR and POSTGRES_HOST_AUTH_METHOD (default scram-sha-256; md5 and trust
#   work too), and /docker-entrypoint-initdb.d/*.sh, *.sql and *.sql.gz are run once;
# - a PGDATA with a database in it is left alone;
# - postgres then replaces this script (exec), so it is PID 1 and gets `docker stop`'s signal.
# Connections over the Unix socket inside the container are trusted, others need the password.
set -euo pipefail
shopt -s nullglob

log() { printf '%s [entrypoint] %s\n' "$(date -u '+%F %T UTC')" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# file_env VAR [DEFAULT]: VAR from VAR or from the file VAR_FILE names (Docker secrets).
file_env() {
    local var=$1 default=${2:-} file_var="${1}_FILE" value
    if [[ -n ${!var:-} && -n ${!file_var:-} ]]; then
        die "both $var and $file_var are set (they are exclusive)"
    fi
    value=$default
    if [[ -n ${!var:-} ]]; then
        value=${!var}
    elif [[ -n ${!file_var:-} ]]; then
        value=$(<"${!file_var}")
    fi
    export "$var=$value"
    unset "$file_var"
}

if [[ $# -eq 0 || $1 == -* ]]; then
    set -- postgres "$@"
fi
if [[ $1 != postgres ]]; then
    exec "$@"
fi

export PGDATA=${PGDATA:-/var/lib/postgresql/data}
self=$(readlink -f "${BASH_SOURCE[0]}")

mkdir -p "$PGDATA"
chmod 0700 "$PGDATA" || :
if [[ $(id -u) == 0 ]]; then
    mkdir -p /var/run/postgresql
    chown postgres:postgres /var/run/postgresql
    chmod 3777 /var/run/postgresql
    if [[ -n ${POSTGRES_INITDB_WALDIR:-} ]]; then
        mkdir -p "$POSTGRES_INITDB_WALDIR"
        find "$POSTGRES_INITDB_WALDIR" \! -user postgres -exec chown postgres: '{}' +
    fi
    find "$PGDATA" \! -user postgres -exec chown postgres: '{}' +
    HOME=/var/lib/postgresql exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$self" "$@"
fi

run_initdb_scripts() {
    local psql=("$@") f
    for f in /docker-entrypoint-initdb.d/*; do
        case $f in
            *.sh)
                if [[ -x $f ]]; then
                    log "running $f"
                    "$f"
                else
                    log "sourcing $f"
                    # shellcheck disable=SC1090
                    . "$f"
                fi
                ;;
            *.sql) log "running $f"; "${psql[@]}" -f "$f" ;;
            *.sql.gz) log "running $f"; gunzip -c "$f" | "${psql[@]}" ;;
            *) log "ignoring $f" ;;
        esac
    done
}

# initialise [POSTGRES_OPTION...]: the options go to the temporary server too.
initialise() {
    local auth initdb_args=() extra=() server_args psql
    file_env POSTGRES_PASSWORD
    file_env POSTGRES_USER postgres
    file_env POSTGRES_DB "$POSTGRES_USER"
    file_env POSTGRES_INITDB_ARGS
    auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
    if [[ -z $POSTGRES_PASSWORD && $auth != trust ]]; then
        die "the database is uninitialised and POSTGRES_PASSWORD is not set (POSTGRES_HOST_AUTH_METHOD=trust allows connections without one)"
    fi
    if [[ ! -w $PGDATA ]]; then
        die "$PGDATA is not writable by $(id -un) (uid $(id -u))"
    fi

    log "initialising $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
    initdb_args=(--username="$POSTGRES_USER")
    if [[ -n ${POSTGRES_INITDB_WALDIR:-} ]]; then
        initdb_args+=(--waldir="$POSTGRES_INITDB_WALDIR")
    fi
    read -ra extra <<<"$POSTGRES_INITDB_ARGS"
    if [[ -n $POSTGRES_PASSWORD ]]; then
        initdb "${initdb_args[@]}" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") "${extra[@]}"
    else
        initdb "${initdb_args[@]}" "${extra[@]}"
    fi

    printf '\n# Added by the entrypoint: every other connection with a password.\nhost all all all %s\n' \
        "$auth" >>"$PGDATA/pg_hba.conf"

    # A server on a private Unix socket only, for creating the database and running the
    # scripts: neither clients nor pg_isready (the health check) take it for the real one.
    export PGHOST
    PGHOST=$(mktemp -d)
    server_args=$(printf '%q ' "$@" -c "listen_addresses=" -c "unix_socket_directories=$PGHOST" \
        -p "${PGPORT:-5432}")
    export PGPASSWORD=$POSTGRES_PASSWORD
    pg_ctl -D "$PGDATA" -o "$server_args" -w start
    psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
    if [[ $POSTGRES_DB != postgres ]]; then
        "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
    run_initdb_scripts "${psql[@]}" --dbname "$POSTGRES_DB"
    pg_ctl -D "$PGDATA" -m fast -w stop
    rmdir "$PGHOST"
    unset PGPASSWORD PGHOST
    log "initialisation complete"
}

if [[ -s $PGDATA/PG_VERSION ]]; then
    log "$PGDATA already holds a database (PostgreSQL $(<"$PGDATA/PG_VERSION")): not initialising"
else
    initialise "${@:2}"
fi
unset POSTGRES_PASSWORD

exec "$@"
