# Two entry points (see README): `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The VGG-16 loss-network weights used by tests (see ../shared/weights/README.md).
export NST_VGG_WEIGHTS ?= $(abspath ../shared/weights/vgg16_imagenet_features.pth)

.PHONY: demo test lint pytest clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# serving install: numpy, onnxruntime, pillow, typer (no torch)
$(VENV)/.base: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

# everything: training, export, tests, linters
$(VENV)/.dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.base

demo: $(VENV)/.base
	$(BIN)/nst stylize nst/assets/sample_chelsea.jpg -o out/chelsea_stylized.png --force
	@echo "demo output: $(abspath out/chelsea_stylized.png)"

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy nst train export runtime cli calibration

pytest: $(VENV)/.dev
	$(BIN)/python -m pytest -q

test: lint pytest

clean:
	rm -rf $(VENV) out build *.egg-info .pytest_cache .mypy_cache .ruff_cache
