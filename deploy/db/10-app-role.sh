#!/usr/bin/env bash
# Run once by the postgres image's entrypoint, on the first start of an empty data volume
# (docker-compose.yml mounts this folder at /docker-entrypoint-initdb.d): creates the role the
# application connects as. It owns the database, so it owns the public schema and every table
# it creates, and nothing else: not a superuser (no COPY ... TO PROGRAM, no reading server
# files), and it can create no role and no database. The superuser, POSTGRES_USER, stays for
# administration. The password comes from the file DATABASE_PASSWORD_FILE names; psql reads
# it (\set with backquotes), so it is never on a command line.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --username "$POSTGRES_USER" \
    --dbname "$POSTGRES_DB" <<'SQL'
\set password `cat "$DATABASE_PASSWORD_FILE"`
CREATE ROLE textclf LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'password';
\unset password
SELECT current_database() AS database \gset
ALTER DATABASE :"database" OWNER TO textclf;
SQL
