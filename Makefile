SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.9
BUF_VERSION := 1.75.0
DCLINT_VERSION := 3.1.0
NODE_TOOLS := $(VENV)/node
# tritonclient, the standard inference client, in an environment of its own: it pins protobuf
# below 7, which the project's lock cannot take (tests/inference_client/requirements.txt).
TRITON_VENV := .venv-tritonclient
# checkov, which checks the Kubernetes manifests and the Dockerfile in `make lint`, in an
# environment of its own: its hundred pinned dependencies are no part of the services
# (scripts/checkov-requirements.txt).
CHECKOV_VENV := .venv-checkov
# The KEDA models (@kubernetes-models/keda) check the optional KEDA component's objects.
KEDA_MODELS_VERSION := 2.0.0
# axe-core, injected into every console page by the browser tests (tests/browser/).
AXE_CORE_VERSION := 4.14.1
# The serving peers the bench measures beside the project, each in an environment of its own
# (neither fits the project's lock); both pin the lock's scikit-learn, numpy and scipy, so the
# project's pickles load (bench/peers/*-requirements.in).
PEERS := kserve bentoml

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# Compiled once at install: every process the tests and `make run` start imports bytecode
# instead of compiling its libraries again (4 s of CPU each, where PYTHONDONTWRITEBYTECODE
# keeps a process from saving what it compiled).
$(VENV)/.installed: pyproject.toml uv.lock
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	@VIRTUAL_ENV=$(VENV) $(VENV)/bin/uv sync --quiet --locked --inexact --active --compile-bytecode
	@touch $@

$(VENV)/.bench-installed: $(VENV)/.installed
	@VIRTUAL_ENV=$(VENV) $(VENV)/bin/uv sync --quiet --locked --inexact --active --group bench \
		--compile-bytecode
	@touch $@

$(TRITON_VENV)/.installed: tests/inference_client/requirements.txt
	@test -x $(TRITON_VENV)/bin/python || python3 -m venv $(TRITON_VENV)
	@$(TRITON_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps \
		-r tests/inference_client/requirements.txt
	@touch $@

$(CHECKOV_VENV)/.installed: scripts/checkov-requirements.txt
	@test -x $(CHECKOV_VENV)/bin/python || python3 -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps \
		-r scripts/checkov-requirements.txt
	@touch $@

.venv-%/.peer-installed: bench/peers/%-requirements.txt $(VENV)/.installed
	@test -x .venv-$*/bin/python || $(VENV)/bin/uv venv --quiet --python python3 .venv-$*
	@VIRTUAL_ENV=.venv-$* $(VENV)/bin/uv pip sync --quiet $<
	@touch $@

$(NODE_TOOLS)/.installed: Makefile
	@npm install --silent --no-save --no-audit --no-fund --prefix $(NODE_TOOLS) \
		@bufbuild/buf@$(BUF_VERSION) dclint@$(DCLINT_VERSION) \
		@kubernetes-models/keda@$(KEDA_MODELS_VERSION) axe-core@$(AXE_CORE_VERSION)
	@touch $@

# Debian's docker-compose validates the compose file without a Docker engine.
docker-compose-installed:
	@command -v docker-compose >/dev/null || { \
		echo "Installing Debian's docker-compose (validates docker-compose.yml)"; \
		apt-get update -qq && apt-get install -y -qq docker-compose >/dev/null; }

# Debian's Docker engine, Compose v1 and debootstrap: the compose test and the offline base
# images need them, and only root can install them (or start a private engine).
docker-installed:
	@if [ "$$(id -u)" = 0 ] && ! { command -v dockerd && command -v docker-compose \
			&& command -v debootstrap; } >/dev/null; then \
		echo "Installing Debian's docker.io, docker-compose and debootstrap"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends docker.io docker-compose debootstrap >/dev/null; fi

# Debian's prometheus brings promtool (the tests check every metrics endpoint with it) and the
# server; its recommends (a node exporter on port 9100) stay out and its service is never
# started: a policy-rc.d that refuses it is in place while apt-get runs, unless one already is.
promtool-installed:
	@command -v promtool >/dev/null || { \
		echo "Installing Debian's prometheus (promtool and the server, not started)"; \
		own_policy=; if [ ! -e /usr/sbin/policy-rc.d ]; then \
			printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; \
			own_policy=1; fi; \
		status=0; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends prometheus >/dev/null || status=$$?; \
		if [ -n "$$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi; exit $$status; }

# Debian's headless chromium and its chromedriver, which the browser tests drive through
# Selenium (tests/browser/): never a browser or a driver downloaded at install time.
chromium-installed:
	@{ command -v chromium && command -v chromedriver; } >/dev/null || { \
		echo "Installing Debian's chromium and chromium-driver (the browser tests)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends chromium chromium-driver >/dev/null; }

# Debian's wrk is the closed-loop HTTP load generator the benchmarks drive.
wrk-installed:
	@command -v wrk >/dev/null || { \
		echo "Installing Debian's wrk (HTTP load generator)"; \
		apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

install: $(VENV)/.installed $(NODE_TOOLS)/.installed ## Create .venv with the locked dependencies and the lint tools

tritonclient: $(TRITON_VENV)/.installed ## Create .venv-tritonclient, the pinned standard inference client the tests drive

peers: $(PEERS:%=.venv-%/.peer-installed) ## Create .venv-kserve and .venv-bentoml, the serving peers the bench measures

protos: $(VENV)/.installed ## Generate the Python gRPC code from protos/ into algorithm/v1/ and algorithm/inference/
	@$(PY) -m protos.generate

lint: install $(CHECKOV_VENV)/.installed docker-compose-installed promtool-installed ## Lint the code, the protos, the images, compose, Kubernetes and CI files
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/lint-imports --no-cache 2>&1 | grep -v "too many dots"
	@$(VENV)/bin/mypy
	@cd protos && ../$(NODE_TOOLS)/node_modules/.bin/buf lint
	@$(VENV)/bin/hadolint Dockerfile deploy/images/*/Dockerfile
	@$(VENV)/bin/shellcheck deploy/images/build.sh deploy/images/*/docker-entrypoint.sh deploy/db/*.sh
	@docker-compose config -q
	@$(NODE_TOOLS)/node_modules/.bin/dclint docker-compose.yml
	@$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	@$(VENV)/bin/zizmor --offline --min-severity medium .github/workflows/
	@cd deploy/prometheus && promtool check config --lint=all prometheus.yml >/dev/null \
		&& promtool check rules rules.yml >/dev/null
	@# kubectl kustomize, kubernetes-validate (strict), the KEDA models, checkov: see the script.
	@$(PY) scripts/check_kubernetes.py --node-modules $(NODE_TOOLS)/node_modules \
		--checkov $(CHECKOV_VENV)/bin/checkov

# make test's first step runs this many pytest processes side by side (pytest-xdist), each a
# run of its own (tests/conftest.py); most of a stack test's time is spent waiting on servers
# and workers, which a second process fills. The `serial` tests run after, in one process:
# the hostile-load suite, whose bounds are measured against a legitimate caller, and the
# folders whose modules share one stack (tests/conftest.py).
TEST_WORKERS ?= 2

test: install protos $(VENV)/.bench-installed $(TRITON_VENV)/.installed wrk-installed promtool-installed chromium-installed ## Run the whole test suite (starts throwaway PostgreSQL/Redis if none answers)
	@status=0; \
	$(PY) scripts/with_services.py $(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadscope \
		--no-loadscope-reorder -m "not serial and not chaos and not compose" $(PYTEST_ARGS) \
		|| status=$$?; \
	$(PY) scripts/with_services.py $(VENV)/bin/pytest -m "serial and not chaos and not compose" \
		$(PYTEST_ARGS) || [ $$? -eq 5 ] || status=1; \
	exit $$status

test-fast: install protos $(VENV)/.bench-installed ## The quick loop (under two minutes): every test that starts no stack, worker, container or process
	@$(PY) scripts/with_services.py $(VENV)/bin/pytest -m "not slow and not chaos and not compose" $(PYTEST_ARGS)

bench: install protos $(VENV)/.bench-installed peers wrk-installed ## Run the benchmarks (FULL=1 for the large sizes); writes bench/results/
	@$(PY) scripts/with_services.py $(PY) -m bench $(if $(FULL),--full) $(BENCH_ARGS)

chaos: install protos ## Run the fault scenarios too long or too disruptive for every CI run
	@$(PY) scripts/with_services.py $(VENV)/bin/pytest -m chaos $(PYTEST_ARGS)

compose-test: install protos docker-installed ## Run the compose deployment on a Docker engine: build, scale, restart, lose replicas
	@$(PY) scripts/with_docker.py $(VENV)/bin/pytest -m compose -s --timeout 1800 tests/compose $(PYTEST_ARGS)

images-offline: docker-installed ## Build the Python, PostgreSQL and Redis base images from Debian packages (no registry needed)
	@$(PY) scripts/with_docker.py deploy/images/build.sh

# `docker compose` where the plugin is installed, else Compose v1.
COMPOSE = $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)

up: ## docker compose up --build, with the build time and git revision stamped into the image
	@BUILD_TIME=$$(date -u +%FT%TZ) GIT_REVISION=$$(git rev-parse HEAD 2>/dev/null || echo unknown) \
		$(COMPOSE) up --build

run: install protos ## Start the whole stack as local processes (Ctrl-C stops it)
	@exec $(PY) scripts/with_services.py --data-dir var/services $(MAKE) serve

serve: export PATH := $(abspath $(VENV))/bin:$(PATH)
serve: # The stack itself, once PostgreSQL and Redis answer (make run sees to that)
	@$(PY) -m common.credentials
	@$(PY) -m web.manage release
	@$(PY) -m algorithm.tools.ops retrain-stale
	@echo "web http://127.0.0.1:$${WEB_PORT:-8000}/api/  gRPC 127.0.0.1:$${ALGORITHM_GRPC_PORT:-50051}  Flask shim http://127.0.0.1:$${ALGORITHM_HTTP_PORT:-5000}/"
	@$(PY) scripts/announce_ready.py & exec honcho start

token: ## Print the API token of `make run` (generated at its first start unless API_TOKEN is set)
	@$(PY) -m common.credentials show API_TOKEN

.PHONY: help install tritonclient peers protos lint test test-fast bench chaos compose-test images-offline up run serve token \
	docker-compose-installed docker-installed wrk-installed promtool-installed chromium-installed
