# One image for every service; docker-compose.yml picks the command.
FROM python:3.11.7-slim-bookworm AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/venv
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-dev --no-install-project

FROM python:3.11.7-slim-bookworm
RUN useradd --create-home --uid 10001 textclf \
    && mkdir -p /models /logs \
    && chown textclf:textclf /models /logs
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=textclf:textclf . .
ARG BUILD_TIME=unknown
ARG GIT_REVISION=unknown
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MODEL_DIR=/models \
    LOG_DIR=/logs \
    BUILD_TIME=$BUILD_TIME \
    GIT_REVISION=$GIT_REVISION
USER textclf
EXPOSE 8000 50051 5000
CMD ["honcho", "start", "web"]
