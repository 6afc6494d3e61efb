# One image for every service; docker-compose.yml picks each one's command.
# Any Python 3.11 image on Debian bookworm will do: deploy/images/ builds one from Debian's
# packages for hosts that reach no registry.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# checkov:skip=CKV_DOCKER_7: the base image is the ARG above, a pinned patch release; checkov reads the unexpanded ${PYTHON_IMAGE} as an untagged image.
FROM ${PYTHON_IMAGE} AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never
# uv in a virtual environment of its own: Debian's Python refuses a system-wide pip install.
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock ./
# Exactly the locked versions, without the development group: no resolution at build time.
RUN /opt/uv/bin/uv sync --locked --no-dev --no-install-project
# The project itself, editable: its console scripts (textclf, textclf-web, textclf-schema)
# run the code in /app, which the final stage copies to the same place.
COPY . .
RUN /opt/uv/bin/uv sync --locked --no-dev

FROM ${PYTHON_IMAGE}
# PostgreSQL's client of the server's major version: pg_dump and pg_restore, for
# `python -m algorithm.tools.ops backup` and `restore` (docs/operations.md, "Day two").
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/*
# The volumes' mount points, owned by the runtime user so that a fresh volume is too:
# /secrets (each container's own secrets) and, for compose's secrets step, one folder per
# container that it fills (see docker-compose.yml).
RUN groupadd --gid 10001 textclf \
    && useradd --uid 10001 --gid 10001 --create-home textclf \
    && install -d -o textclf -g textclf -m 0755 /models /logs \
    && install -d -o textclf -g textclf -m 0700 /secrets \
    && install -d -o textclf -g textclf -m 0750 /secrets-for \
        /secrets-for/web /secrets-for/algorithm /secrets-for/worker /secrets-for/scheduler \
        /secrets-for/db /secrets-for/redis
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Owned by root, read-only to the runtime user: a process of the app cannot change its code.
# The generated gRPC code is committed (and checked against protos/ by the tests).
COPY . .
ARG BUILD_TIME=unknown
ARG GIT_REVISION=unknown
# SECRETS_DIR is where generated secrets are kept (a path, not a secret). METRICS_DIR holds
# the processes' metrics samples, rewritten all the time: under /tmp, which compose mounts
# as tmpfs on its read-only root file system.
# hadolint ignore=DL3064
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MODEL_DIR=/models \
    LOG_DIR=/logs \
    SECRETS_DIR=/secrets \
    LISTEN_ADDRESS=0.0.0.0 \
    METRICS_DIR=/tmp/textclf-metrics \
    BUILD_TIME=$BUILD_TIME \
    GIT_REVISION=$GIT_REVISION
LABEL org.opencontainers.image.title="textclf" \
      org.opencontainers.image.revision=$GIT_REVISION \
      org.opencontainers.image.created=$BUILD_TIME
USER 10001:10001
EXPOSE 8000 50051 5000 9511 9512 9513 9514
# For the default command (web); docker-compose.yml gives every other service its own check.
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=5 \
    CMD ["python", "-m", "web.healthcheck"]
CMD ["honcho", "start", "web"]
