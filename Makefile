# qtrain developer entry points. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is pinned to the CPU build first so nothing later can pull a multi-GB CUDA build.
TORCH ?= torch==2.13.0
EXTRAS ?= dev,tpe,kfp,azure,ui,tensorboard
LINTED := src tests scripts benchmarks components pipelines hatch_build.py
AZURE_SDK_TESTS := $(shell grep -rl "pytest.mark.azure_sdk" tests --include="test_*.py" | sort)

.PHONY: setup setup-unsloth-cpu setup-azurite demo test test-containers test-full test-fast lint format assets clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[$(EXTRAS)]"

# unsloth's CPU mode (>= 2026.10.9) without its GPU-only dependencies (xformers, triton,
# bitsandbytes, torchvision), which would pull CUDA builds; GPU machines use `pip install
# 'qtrain[unsloth]'` (images/train) instead.
setup-unsloth-cpu: setup
	$(BIN)/pip install -q --no-deps "unsloth==2026.10.9" "unsloth_zoo==2026.10.9"
	$(BIN)/pip install -q protobuf sentencepiece

# Azurite (Azure Storage emulator) for the Azure tests; 3.35.0 is the last release for Node 20.
AZURITE := .tools/azurite/node_modules/.bin/azurite-blob
$(AZURITE):
	npm install --silent --no-audit --no-fund --prefix .tools/azurite azurite@3.35.0

setup-azurite: $(AZURITE)

demo: setup
	$(BIN)/qtrain run

test: setup setup-unsloth-cpu setup-azurite
	$(BIN)/ruff check $(LINTED)
	$(BIN)/lint-imports
	@# Two workers, a test file each at a time (module fixtures such as a reference run are
	@# built once); every test holds one torch thread. The `full` variants: make test-full.
	$(BIN)/python -m pytest -q --durations=25 -n 2 --dist loadfile -m "not azure_sdk and not containers and not full"
	@# Each module that drives the Azure SDK's Qiskit backends runs in a process of its own:
	@# after some other Qiskit work in the same process, building a Qiskit Target on a worker
	@# thread segfaults (seen in CI, and every time with these modules in one process).
	for module in $(AZURE_SDK_TESTS); do $(BIN)/python -m pytest -q $$module || exit 1; done
	$(MAKE) test-containers

# The images built for real on a debootstrap base, offline, and the tiny DAG run in them
# (scripts/test_containers.sh: installs docker.io and debootstrap, starts and stops its own
# engine). Needs root for apt-get and dockerd, as CI has.
test-containers: setup
	BIN=$(BIN) bash scripts/test_containers.sh

# The full count: `make test`'s main suite plus the `full` variants (tests/conftest.py).
test-full: setup setup-unsloth-cpu setup-azurite
	$(BIN)/python -m pytest -q --durations=25 -n 2 --dist loadfile -m "not azure_sdk and not containers"

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not containers"

lint:
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/lint-imports

format:
	$(BIN)/ruff format $(LINTED)
	$(BIN)/ruff check --fix $(LINTED)

assets: setup
	$(BIN)/python scripts/build_assets.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist

# Container images (images/, built from the repository root). Names and tags come from
# qtrain.images (the package version); QTRAIN_IMAGE_REGISTRY moves them to another registry.
DOCKER ?= docker
DOCKER_BUILD_FLAGS ?=
IMAGE_ENV = $(if $(QTRAIN_IMAGE_REGISTRY),QTRAIN_IMAGE_REGISTRY=$(QTRAIN_IMAGE_REGISTRY))
image_name = $(shell $(IMAGE_ENV) $(BIN)/python -c 'from qtrain.images import $(1); print($(1)())' 2>/dev/null)
BASE_IMAGE = $(call image_name,base_image)
TRAIN_IMAGE = $(call image_name,train_image)

.PHONY: images image-base image-train images-push

images: image-base image-train

image-base:
	@test -n "$(BASE_IMAGE)" || { echo "qtrain is not installed in $(VENV): run make setup"; exit 1; }
	$(DOCKER) build $(DOCKER_BUILD_FLAGS) -f images/base/Dockerfile -t $(BASE_IMAGE) .

image-train:
	@test -n "$(TRAIN_IMAGE)" || { echo "qtrain is not installed in $(VENV): run make setup"; exit 1; }
	$(DOCKER) build $(DOCKER_BUILD_FLAGS) --platform linux/amd64 -f images/train/Dockerfile -t $(TRAIN_IMAGE) .

images-push: images
	$(DOCKER) push $(BASE_IMAGE)
	$(DOCKER) push $(TRAIN_IMAGE)
