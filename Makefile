# Counterfraud: `make demo` runs the whole job on generated data; `make test` runs the tests.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DEMO := demo
PEOPLE ?= 5000
SEED ?= 7
DEMO_TRAINER ?= Demo Trainer
DEMO_PANEL ?= demo-panel
# the demo panel account's password, for the generated demo world only
DEMO_PANEL_PASSWORD ?= demo panel password

.PHONY: install system-packages demo test lint bench bench-smoke bench-scale ui app clean

$(BIN)/counterfraud: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and pinned: the CPU build; any other version pulls CUDA packages
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(BIN)/counterfraud

# The browser tests drive Debian's Chromium through its own driver (browser builds cannot be downloaded).
system-packages:
	@command -v chromedriver >/dev/null && command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium and chromium-driver"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }

install: system-packages $(BIN)/counterfraud

demo: install
	$(BIN)/counterfraud generate --out $(DEMO)/data --people $(PEOPLE) --seed $(SEED) --truth $(DEMO)/truth.parquet
	$(BIN)/counterfraud train --data $(DEMO)/data --workspace $(DEMO)/workspace --truth $(DEMO)/truth.parquet --by "$(DEMO_TRAINER)"
	# the oversight panel reads the version's report (counterfraud report), then a member other than the trainer
	# approves it, signed in with a panel account of the case store (made here once; a rerun keeps it)
	-printf '%s\n' "$(DEMO_PANEL_PASSWORD)" | $(BIN)/counterfraud users add "$(DEMO_PANEL)" --role panel --workspace $(DEMO)/workspace
	printf '%s\n' "$(DEMO_PANEL_PASSWORD)" | $(BIN)/counterfraud approve --model-version challenger --by "$(DEMO_PANEL)" --note "demo: approved after reading the report" --promote --workspace $(DEMO)/workspace
	$(BIN)/counterfraud score --data $(DEMO)/data --out $(DEMO)/run --workspace $(DEMO)/workspace
	# a subject access request for the top case: the explanation quotes the appeals route and contact point
	printf 'oversight:\n  appeals_route: "write to the demo review team, Demo Council, 1 High Street"\n  contact: "counter-fraud@demo.example"\n' > $(DEMO)/oversight.yaml
	$(BIN)/counterfraud explain-subject --ref "$$(sed -n 2p $(DEMO)/run/cases.csv | cut -d, -f1)" --workspace $(DEMO)/workspace --config $(DEMO)/oversight.yaml --out $(DEMO)/explanation.txt
	@echo; echo "Top of the case list ($(DEMO)/run/cases.csv):"; head -n 6 $(DEMO)/run/cases.csv | cut -c1-200

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest -q

bench: install
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.reliability

bench-smoke: install
	$(BIN)/python -m benchmarks.run --smoke
	$(BIN)/python -m benchmarks.reliability --smoke

# 1 M, 3 M and 10 M people on a Dask LocalCluster (1 M on local too; SCALE_PEOPLE="1000000" for one size); worlds kept in .bench-scale/
bench-scale: install
	$(BIN)/python -m benchmarks.scale $(if $(SCALE_PEOPLE),--people $(SCALE_PEOPLE))

ui: install
	$(BIN)/counterfraud ui --workspace .counterfraud

# the case-review page on the demo workspace (`make demo` imports its run); add an account first (README)
app: install
	$(BIN)/counterfraud app --workspace $(DEMO)/workspace

clean:
	rm -rf $(DEMO) .counterfraud .pytest_cache
