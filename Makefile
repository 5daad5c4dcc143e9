# Two entry points (see README): `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The VGG-16 loss-network weights used by tests (see ../shared/weights/README.md).
export NST_VGG_WEIGHTS ?= $(abspath ../shared/weights/vgg16_imagenet_features.pth)

.PHONY: demo test lint pytest cpp-test clean

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
	$(BIN)/python scripts/lint_imports.py

pytest: $(VENV)/.dev
	scripts/setup_triton.sh build/triton
	$(BIN)/python -m pytest -q

# C++ runtime (runtime/cpp/README.md): fetch ONNX Runtime + headers once into build/third_party,
# build libnst into build/cpp, run its ctest suite (parity with Python, error paths, valgrind).
cpp-test: $(VENV)/.dev
	PYTHON=$(abspath $(BIN)/python) scripts/get_onnxruntime.sh build/third_party
	cmake -S runtime/cpp -B build/cpp -DNST_THIRD_PARTY=$(abspath build/third_party) \
		-DNST_PYTHON=$(abspath $(BIN)/python) -DNST_WITH_TENSORRT=ON -DNST_TRT_COMPILE_ONLY=ON \
		-DTENSORRT_INCLUDE_DIR=$(abspath ../shared/third_party/tensorrt/include) > build/cpp-configure.log
	@grep -h "^-- nst: TensorRT" build/cpp-configure.log
	cmake --build build/cpp -j 2
	ctest --test-dir build/cpp --output-on-failure -j 2
	@grep -h "^max abs diff" build/cpp/Testing/Temporary/LastTest.log | sed 's/^/C++ vs Python parity: /'

test: lint pytest cpp-test

clean:
	rm -rf $(VENV) out build *.egg-info .pytest_cache .mypy_cache .ruff_cache
