#!/usr/bin/env bash
# Builds the base images the deployment needs from Debian bookworm packages, with no
# image registry: debootstrap bookworm once, `docker import` it as textclf-base/debian:bookworm,
# then `docker build` textclf-base/python:3.11, textclf-base/postgres:15 and
# textclf-base/redis:7 on top of it. Talks only to the engine the `docker` CLI reaches
# (DOCKER_HOST and so on). See README.md beside this file.
#
#   deploy/images/build.sh            # import the base if it is missing, (re)build the three
#   deploy/images/build.sh --rebuild  # debootstrap and import the base again first
#
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian), DEBIAN_SECURITY_MIRROR
# (default http://deb.debian.org/debian-security), CA_BUNDLE (default the host's
# /etc/ssl/certs/ca-certificates.crt; empty: add no certificate of the host's).
set -euo pipefail

readonly SUITE=bookworm
readonly BASE_IMAGE=textclf-base/debian:bookworm
readonly IMAGES=(python:textclf-base/python:3.11 postgres:textclf-base/postgres:15 redis:textclf-base/redis:7)
readonly IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
readonly IMAGE_CA_FILE=/etc/ssl/certs/ca-certificates.crt

MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
HOST_CA_BUNDLE=${CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}
# The Dockerfiles are written for the classic builder (no BuildKit-only syntax), which every
# engine has; BuildKit needs the buildx plugin the CLI may lack.
export DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-0}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
workdir=

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }

cleanup() {
    local status=$? mounts
    if [[ -n $workdir && -d $workdir ]]; then
        # Never delete through a mount debootstrap may have left behind after a failure.
        mounts=$(awk -v root="$workdir/" 'index($2, root) == 1 { print $2 }' /proc/mounts | sort -r)
        if [[ -n $mounts ]]; then
            while IFS= read -r mount; do
                umount -l "$mount" || true
            done <<<"$mounts"
        fi
        rm -rf --one-file-system "$workdir"
    fi
    return "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

declare -a timings=()
# step NAME COMMAND...: run COMMAND, print and remember how long it took.
step() {
    local name=$1 start end elapsed
    shift
    log "$name"
    start=$EPOCHREALTIME
    "$@"
    end=$EPOCHREALTIME
    elapsed=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }')
    timings+=("$(printf '%-44s %8ss' "$name" "$elapsed")")
    log "$name: ${elapsed}s"
}

# Certificates (PEM) in $2 that are not in $1, one file each under directory $3; prints how many.
extra_certificates() {
    awk -v out="$3" '
        FNR == 1 { file++ }
        /-----BEGIN CERTIFICATE-----/ { inside = 1; key = ""; pem = $0 "\n"; next }
        /-----END CERTIFICATE-----/ && inside {
            inside = 0; pem = pem $0 "\n"
            if (file == 1) { have[key] = 1 }
            else if (!(key in have) && !(key in done)) {
                done[key] = 1; n++
                name = sprintf("%s/host-%03d.crt", out, n)
                printf "%s", pem > name; close(name)
            }
            next
        }
        inside { gsub(/[ \t\r]/, ""); key = key $0; pem = pem $0 "\n" }
        END { print n + 0 }
    ' "$1" "$2"
}

write_rootfs_config() {
    local rootfs=$1
    rm -f "$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    # What Debian's official images set up for life in a container: no caches or translations
    # kept, services never started by package scripts, no documentation installed ("slim").
    cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    printf 'Acquire::Languages "none";\n' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
    printf 'Acquire::GzipIndexes "true";\n' >"$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
    printf 'Apt::AutoRemove::SuggestsImportant "false";\n' >"$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
    printf '#!/bin/sh\n# No service starts while an image is built.\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
    chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# Slim: no documentation, manual pages or translations (copyright files stay).
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
    find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    find "$rootfs/usr/share/doc" -mindepth 1 -depth -type d -empty -delete
    rm -rf "${rootfs:?}"/usr/share/{groff,info,linda,lintian/overrides,locale,man}/*
}

add_host_certificates() {
    local rootfs=$1 dir=usr/local/share/ca-certificates/build-host count
    if [[ -z $HOST_CA_BUNDLE ]]; then
        log "CA_BUNDLE is empty: the image trusts Debian's CA certificates only"
        return
    fi
    [[ -r $HOST_CA_BUNDLE ]] || die "cannot read the CA bundle $HOST_CA_BUNDLE (set CA_BUNDLE)"
    # Only the host's certificates Debian's ca-certificates lacks (for instance a TLS-inspecting
    # proxy's), as local CAs: update-ca-certificates keeps them in the bundle whenever it runs.
    mkdir -p "$rootfs/$dir"
    count=$(extra_certificates "$rootfs$IMAGE_CA_FILE" "$HOST_CA_BUNDLE" "$rootfs/$dir")
    log "$count certificate(s) of $HOST_CA_BUNDLE added to Debian's"
    chroot "$rootfs" update-ca-certificates >/dev/null
}

# The host's certificates added above are in the image's bundle, also after an update of
# ca-certificates (whose own removals, of distrusted CAs, stand).
check_certificates() {
    local rootfs=$1 dir=usr/local/share/ca-certificates/build-host missing
    local added=("$rootfs/$dir"/*.crt)
    [[ -e ${added[0]} ]] || return 0
    missing=$(extra_certificates "$rootfs$IMAGE_CA_FILE" <(cat "${added[@]}") "$workdir")
    [[ $missing == 0 ]] || die "$missing certificate(s) of $HOST_CA_BUNDLE missing from the image's bundle"
}

# The security and point-release updates published since bookworm's last point release.
upgrade_rootfs() {
    local rootfs=$1
    if [[ ! -e $rootfs/etc/resolv.conf ]]; then
        cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
    fi
    mount -t proc proc "$rootfs/proc"
    chroot "$rootfs" apt-get update
    DEBIAN_FRONTEND=noninteractive chroot "$rootfs" apt-get -y -o Dpkg::Options::=--force-confold dist-upgrade
    umount "$rootfs/proc"
    check_certificates "$rootfs"
}

clean_rootfs() {
    local rootfs=$1
    chroot "$rootfs" apt-get clean
    rm -rf "${rootfs:?}"/var/lib/apt/lists/* "${rootfs:?}"/var/cache/apt/*.bin \
        "${rootfs:?}"/var/cache/debconf/*-old "${rootfs:?}"/var/lib/dpkg/*-old \
        "${rootfs:?}"/var/log/* "${rootfs:?}"/tmp/* "${rootfs:?}"/var/tmp/* \
        "${rootfs:?}"/root/.cache
    # The engine provides these at run time; the host's must not stay in the image.
    rm -f "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname" "$rootfs/etc/hosts"
    rm -rf "${rootfs:?}"/dev/* "${rootfs:?}"/proc/* "${rootfs:?}"/sys/* "${rootfs:?}"/run/*
}

import_rootfs() {
    local rootfs=$1
    tar --numeric-owner -C "$rootfs" -c . | docker import \
        --change "ENV PATH=$IMAGE_PATH LANG=C.UTF-8 SSL_CERT_FILE=$IMAGE_CA_FILE PIP_CERT=$IMAGE_CA_FILE REQUESTS_CA_BUNDLE=$IMAGE_CA_FILE" \
        --change 'CMD ["bash"]' \
        --change "LABEL org.opencontainers.image.title=textclf-base/debian org.opencontainers.image.description=\"Debian $SUITE (minbase), from $MIRROR\" org.opencontainers.image.version=$SUITE" \
        --message "debootstrap --variant=minbase $SUITE from $MIRROR" \
        - "$BASE_IMAGE" >/dev/null
}

build_image() {
    local name=$1 tag=$2
    docker build --build-arg "BASE_IMAGE=$BASE_IMAGE" --tag "$tag" "$here/$name"
}

# The ids the tags named before this run, children first (to remove them once superseded).
previous_ids() {
    local entry
    for entry in "${IMAGES[@]}"; do
        docker image inspect --format '{{.Id}}' "${entry#*:}" 2>/dev/null || true
    done
    docker image inspect --format '{{.Id}}' "$BASE_IMAGE" 2>/dev/null || true
}

# Removes those of the given images no tag names any more; one still in use stays.
remove_superseded() {
    local id
    for id in "$@"; do
        if [[ $(docker image inspect --format '{{len .RepoTags}}' "$id" 2>/dev/null || echo 1) == 0 ]]; then
            docker image rm "$id" >/dev/null 2>&1 && log "removed the superseded image $id" || true
        fi
    done
}

main() {
    local rebuild=0 arg entry name tag rootfs previous=()
    for arg in "$@"; do
        case $arg in
            --rebuild) rebuild=1 ;;
            -h | --help) usage; exit 0 ;;
            *) usage >&2; die "unknown argument: $arg" ;;
        esac
    done
    command -v docker >/dev/null || die "the docker CLI is not installed"
    docker version --format '{{.Server.Version}}' >/dev/null || die "no Docker engine answers (DOCKER_HOST=${DOCKER_HOST:-})"
    mapfile -t previous < <(previous_ids)

    if ((rebuild == 0)) && docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        log "$BASE_IMAGE exists: not bootstrapped again (--rebuild to do so)"
    else
        [[ $(id -u) == 0 ]] || die "debootstrap needs root"
        command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
        workdir=$(mktemp -d "${TMPDIR:-/tmp}/textclf-base.XXXXXX")
        rootfs=$workdir/rootfs
        step "debootstrap $SUITE (minbase)" \
            debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$rootfs" "$MIRROR"
        step "configure the root file system" write_rootfs_config "$rootfs"
        step "add the host's CA certificates" add_host_certificates "$rootfs"
        step "apply bookworm's updates" upgrade_rootfs "$rootfs"
        step "clean the root file system" clean_rootfs "$rootfs"
        step "docker import $BASE_IMAGE" import_rootfs "$rootfs"
        rm -rf --one-file-system "$workdir"
        workdir=
    fi

    for entry in "${IMAGES[@]}"; do
        name=${entry%%:*}
        tag=${entry#*:}
        step "docker build $tag" build_image "$name" "$tag"
    done

    remove_superseded "${previous[@]}"

    printf '\n%-44s %9s\n' "step" "time"
    printf '%s\n' "${timings[@]}"
    printf '\n'
    docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' | grep '^textclf-base/' | sort
}

main "$@"
