SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.9
BUF_VERSION := 1.75.0
NODE_TOOLS := $(VENV)/node
PROTO_FILES := $(wildcard protos/algorithm/v1/*.proto)

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml uv.lock
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	@VIRTUAL_ENV=$(VENV) $(VENV)/bin/uv sync --quiet --locked --inexact --active
	@touch $@

$(NODE_TOOLS)/.installed:
	@npm install --silent --no-save --no-audit --no-fund --prefix $(NODE_TOOLS) @bufbuild/buf@$(BUF_VERSION)
	@touch $@

install: $(VENV)/.installed $(NODE_TOOLS)/.installed ## Create .venv with the locked dependencies and the lint tools

protos: $(VENV)/.installed ## Generate the Python gRPC code from protos/ into algorithm/v1/
	@$(PY) -m protos.generate

lint: install ## Lint the Python code and the .proto files
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@cd protos && ../$(NODE_TOOLS)/node_modules/.bin/buf lint

test: install protos ## Run the whole test suite (starts throwaway PostgreSQL/Redis if none answers)
	@$(PY) scripts/with_services.py $(VENV)/bin/pytest $(PYTEST_ARGS)

run: install protos ## Start the whole stack as local processes (Ctrl-C stops it)
	@exec $(PY) scripts/with_services.py --data-dir var/services $(MAKE) serve

serve: export PATH := $(abspath $(VENV))/bin:$(PATH)
serve: export API_TOKEN ?= dev-token-change-me
serve: # The stack itself, once PostgreSQL and Redis answer (make run sees to that)
	@$(PY) -m web.manage release
	@echo "web http://127.0.0.1:$${WEB_PORT:-8000}/api/  gRPC 127.0.0.1:$${ALGORITHM_GRPC_PORT:-50051}  Flask shim http://127.0.0.1:$${ALGORITHM_HTTP_PORT:-5000}/"
	@exec honcho start

.PHONY: help install protos lint test run serve
