# Two entry points for a fresh machine: `make run` (the main job) and `make test`.
# Both build .venv from the pinned requirements.txt first.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export MUJOCO_GL ?= egl

.PHONY: run test lint format clean

$(STAMP): requirements.txt requirements-extras.txt pyproject.toml
	bash scripts/system-deps.sh
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-extras.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/nrc reproduce --preset quick --out out/quick

test: $(STAMP) lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts examples
	$(BIN)/ruff format --check src tests benchmarks scripts examples

format: $(STAMP)
	$(BIN)/ruff check --fix src tests benchmarks scripts examples
	$(BIN)/ruff format src tests benchmarks scripts examples

clean:
	rm -rf $(VENV) out
