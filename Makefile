# Set-up and use in two commands: `make demo` and `make test` (see README.md).
# Each creates .venv if needed (or uses the virtualenv/conda env that is already active, keeping
# its torch, e.g. a GPU user's CUDA build) and installs what it needs itself. torch==2.13.0 is
# installed first when no torch is present, so pip never pulls a multi-GB CUDA build by accident.

ifdef VIRTUAL_ENV
VENV := $(VIRTUAL_ENV)
else ifdef CONDA_PREFIX
VENV := $(CONDA_PREFIX)
else
VENV := .venv
endif
PY := $(VENV)/bin/python
STAMP := $(VENV)/.deepfake-arena-installed
TEST_STAMP := $(VENV)/.deepfake-arena-test-tools

.PHONY: demo test lint bench gpu-check env readme-figures typing-root
env: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install torch==2.13.0
	$(PY) -m pip install -e .
	@touch $(STAMP)

# Only the tests need the test tools and a browser (the HTML report's test); `make demo` installs neither.
$(TEST_STAMP): $(STAMP)
	$(PY) -m pip install -e '.[test]'
	@command -v chromium >/dev/null || ! command -v apt-get >/dev/null || [ "$$(id -u)" != 0 ] || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) || echo "note: chromium not installed; the report's browser test will skip"
	@touch $(TEST_STAMP)

demo: $(STAMP)
	$(VENV)/bin/arena run runs/quickstart.yaml

test: $(TEST_STAMP) typing-root
	$(VENV)/bin/ruff check arena generators detectors tests benchmarks
	$(VENV)/bin/mypy
	$(PY) -m pytest

# mypy checks the import root deepfake_arena (pyproject.toml), which only the install's mapping
# creates: build/typing/deepfake_arena is the same tree made of links, so mypy sees the real names.
typing-root:
	@rm -rf build/typing && mkdir -p build/typing/deepfake_arena
	@for f in arena/*; do ln -s ../../../$$f build/typing/deepfake_arena/; done
	@ln -s ../../../generators ../../../detectors build/typing/deepfake_arena/

# The README's quickstart plots and quoted numbers, from a fresh quickstart run (tests/test_readme.py).
readme-figures: $(STAMP)
	$(PY) benchmarks/readme_figures.py

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

# On a machine with a CUDA GPU (and a CUDA build of torch): the GPU tests, then every benchmark on
# the GPU, figures to benchmarks/RESULTS_cuda.md.
gpu-check: $(TEST_STAMP)
	$(PY) -m pytest tests/gpu
	$(PY) benchmarks/run_all.py --device cuda
