#!/bin/sh
# Entrypoint of textclf-base/redis:7, modelled on the official redis image's:
# - a first argument that is an option or a *.conf file is redis-server's;
# - started as root, it gives /data to redis and runs itself again as redis;
# - without a configuration file Redis listens on every interface, so protected mode (which
#   refuses every client but local ones while the default user has no password) is turned off,
#   unless the command line sets protected-mode or a password (--requirepass, --aclfile) itself;
# - redis-server then replaces this script (exec), so it is PID 1 and gets `docker stop`'s signal.
set -eu

case ${1:-} in
    -* | *.conf) set -- redis-server "$@" ;;
esac

if [ "${1:-}" = redis-server ]; then
    if [ "$(id -u)" = 0 ]; then
        if [ -d /data ]; then
            find /data \! -user redis -exec chown redis: '{}' +
        fi
        HOME=/var/lib/redis exec setpriv --reuid=redis --regid=redis --init-groups -- "$0" "$@"
    fi

    protect=no
    case ${2:-} in
        '' | --*) ;;
        *) protect=given ;; # a configuration file: it decides
    esac
    for arg in "$@"; do
        case $arg in
            --protected-mode* | --requirepass* | --aclfile*) protect=given ;;
        esac
    done
    if [ "$protect" = no ]; then
        set -- "$@" --protected-mode no
    fi

    # Files only for redis, unless the caller chose a umask.
    if [ "$(umask)" = 0022 ]; then
        umask 0077
    fi
fi

exec "$@"
