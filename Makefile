PYTHON ?= python3
PIP := $(PYTHON) -m pip
SAMPLE_OUT ?= out/sample

.PHONY: setup run test lint bench

setup:
	$(PIP) install -q --disable-pip-version-check -e '.[test]'
	PYTHON=$(PYTHON) bash scripts/install-browser.sh

run: setup
	$(PYTHON) -m spotdiff generate --site spotdiff/sampleweb/site --out $(SAMPLE_OUT) \
		--pairs 40 --no-diff 6 --seed 0 --keep-rejects 3
	$(PYTHON) -m spotdiff report $(SAMPLE_OUT)

test: setup
	$(PYTHON) -m pytest -q

lint:
	$(PYTHON) -m ruff check spotdiff tests bench

bench: setup
	$(PYTHON) bench/throughput.py
