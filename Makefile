# Two commands do all set-up on a fresh machine:
#   make book   -> .venv, install, build the web book into _build/html
#   make test   -> .venv, install, unit tests, notebook regression tests (nbval), browser test of the book
# Other targets:
#   make execute  re-run every chapter in place and store its outputs (CPU, fixed seeds)
#   make nbval    only the notebook regression tests;  make browser  only the web build + browser test
#   make unit     only the package unit tests
#   make lab      open the chapters in JupyterLab (with the ipywidgets extension) on your laptop
#   make lab-check  start that JupyterLab headless and check it in Chromium (scripts/check_lab.py)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# On this project's CI machine these wheels lie on local disk; Colab and other machines keep their own torch.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STAMP  := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CHAPTERS := $(sort $(wildcard chapters/*.ipynb))

# The stored outputs are made on a CPU with fixed seeds. The same thread count and the same
# vector-instruction level (AVX2 kernels in ATen, MKL and oneDNN) keep other x86 machines as
# close to them as possible (chapters print rounded values for the rest); the GPU is hidden so
# that a GPU machine checks the CPU outputs too.
# OMP_WAIT_POLICY=PASSIVE: spin-waiting OpenMP threads stalled 2-thread inference on a busy machine (benchmarks/speed.py).
NB_ENV := OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=AVX2 \
          ONEDNN_MAX_CPU_ISA=AVX2 CUDA_VISIBLE_DEVICES= PYTHONHASHSEED=0 OMP_WAIT_POLICY=PASSIVE

.PHONY: install book webdemo execute nbval browser chromium screenshot test unit unit-ipywidgets7 lab lab-check clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PY) -c "import torch, torchvision" 2>/dev/null || $(PIP) install -q -c constraints.txt $(TORCH_SPEC)
	$(PIP) install -q -c constraints.txt -r requirements-dev.txt
	$(PIP) install -q --no-deps -e .
	touch $@

install: $(STAMP)

# The studio chapter's web demo: onnxruntime-web from the npm registry (package-lock.json) and
# the exported looks model, photos and sizes, written into _static/studio/ (scripts/build_web_demo.py).
NODE_STAMP := node_modules/.package-lock.json
WEB_DEMO   := _static/studio/model/manifest.json
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node.js and npm (Debian: apt-get install -y nodejs npm)"; exit 1; }
	npm ci --no-audit --no-fund --ignore-scripts
$(WEB_DEMO): $(NODE_STAMP) $(STAMP) scripts/build_web_demo.py influencer_gan/export.py influencer_gan/looks.py influencer_gan/weights/looks/model.safetensors
	$(PY) scripts/build_web_demo.py
webdemo: $(WEB_DEMO)

# The web book from the stored notebook outputs (nothing is executed). Warnings are errors.
# (_build/html is rebuilt from scratch, so no page of a removed chapter lingers in it.)
book: $(STAMP) $(WEB_DEMO)
	rm -rf _build/html
	$(VENV)/bin/jupyter-book build . --all -W -n --keep-going

# Re-run every chapter (kernel python3 from the venv) and store its outputs.
execute: $(STAMP)
	$(NB_ENV) $(PY) scripts/execute_notebooks.py $(CHAPTERS)

# Strict notebook regression tests: every text output is compared (volatile text is sanitised,
# cells tagged nbval-ignore-output are run but not compared).
nbval: $(STAMP)
	$(NB_ENV) $(PY) -m pytest -q --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg $(CHAPTERS)

# Debian's Chromium for the browser test, and a small CJK font so that the pages' Chinese
# quotations render in screenshots (readers' browsers have their own fonts).
CHROMIUM_PKGS ?= chromium fonts-wqy-microhei
chromium:
	@if ! test -x $(CHROMIUM) || ! fc-list 2>/dev/null | grep -qi wenquanyi; then \
	  echo "installing $(CHROMIUM_PKGS)"; \
	  $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q $(CHROMIUM_PKGS); fi

browser: book chromium
	REQUIRE_BOOK=1 CHROMIUM=$(CHROMIUM) $(PY) -m pytest -q tests/test_book.py

# The README's picture: chapter 1's first figure as the browser test saw it, made smaller.
screenshot: browser
	mkdir -p docs
	$(PY) -c "from PIL import Image; im = Image.open('_build/screenshots/chapters__01_background__figure.png').convert('RGB'); im.thumbnail((960, 960)); im.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save('docs/screenshot.png', optimize=True)"

# The unit tests run twice: as this CPU runs them, and on ATen's plain kernels (no AVX2/AVX-512),
# whose different rounding stands in for another CPU: a test that holds on only one CPU fails here.
unit: $(STAMP)
	$(PY) -m pytest -q tests --ignore=tests/test_book.py
	ATEN_CPU_CAPABILITY=default $(PY) -m pytest -q tests --ignore=tests/test_book.py
	$(PY) benchmarks/quality.py --quick --no-write   # smoke run of the benchmark script (not a measurement)

# The studios under ipywidgets 7 (Colab's major version); the unit tests above ran them under 8.
IPYW7 := $(VENV)/ipywidgets7
$(IPYW7)/.installed: requirements-ipywidgets7.txt $(STAMP)
	rm -rf $(IPYW7)
	$(PIP) install -q --no-deps --target $(IPYW7) -r requirements-ipywidgets7.txt
	touch $@
unit-ipywidgets7: $(IPYW7)/.installed
	IG_EXPECT_IPYWIDGETS=7 PYTHONPATH=$(IPYW7) $(PY) -m pytest -q tests/test_studio.py

test: unit unit-ipywidgets7 nbval browser

# Work through the chapters interactively: JupyterLab from requirements-lab.txt, pinned by
# constraints.txt, installed into .venv; the ipywidgets extension is the prebuilt
# jupyterlab_widgets package (no Node.js, no `jupyter lab build`). The kernel is the venv's
# python3. NB_ENV is NOT used here: on your laptop you want your GPU and your CPU's fastest
# kernels, so a value may differ in its last printed digit from the stored output.
# Opens your browser at the chapters; `make lab LAB_ARGS="--no-browser --port 8899"` and any
# other `jupyter lab` option pass through LAB_ARGS.
LAB_STAMP := $(VENV)/.lab-installed
LAB_ARGS  ?=
LAB_ROOT  := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)   # jupyter refuses root without it (containers)
$(LAB_STAMP): requirements-lab.txt constraints.txt $(STAMP)
	$(PIP) install -q -c constraints.txt -r requirements-lab.txt
	touch $@
lab: $(LAB_STAMP)
	OMP_WAIT_POLICY=PASSIVE $(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" \
	  --LabApp.default_url=/lab/tree/chapters $(LAB_ROOT) $(LAB_ARGS)

# The check behind `make lab`: start it headless on 127.0.0.1 with a token, check that the
# widget extension is installed and served, open a chapter in Chromium, run a studio panel and
# move one of its sliders (about a minute; not part of `make test`).
lab-check: $(LAB_STAMP) chromium
	CHROMIUM=$(CHROMIUM) $(PY) scripts/check_lab.py

clean:
	rm -rf _build runs _static/studio/ort _static/studio/model
