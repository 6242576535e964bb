# Set-up and everyday targets. Everything the project needs is installed into .venv
# from pyproject.toml, pinned by constraints.txt.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: venv test demo bench lint soak clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# pytest exits 5 when it collected nothing: that is a broken suite, not a pass.
test: $(STAMP)
	@$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$rc

demo: $(STAMP)
	@bash scripts/demo.sh

bench: $(STAMP)
	$(BIN)/python -m benchmarks --write

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/mypy

soak: $(STAMP)
	$(BIN)/butterfly sim --nodes 4 --faulty 1 --seeds 100000 --byzantine all --network hostile

clean:
	rm -rf $(VENV) build dist src/*.egg-info
