# gan-lab: the two commands the README gives. Each one first runs scripts/setup.sh, which sets up
# what is missing (.venv, offline assets, Chromium) and takes seconds when everything is there.
#
#   make book   build the book into _build/html at GAN_LAB_BUDGET (default: book), executing every notebook
#               (REUSE=1: load finished training runs from gan_lab.runs' cache instead of retraining them)
#   make test   unit tests + every notebook under nbval + checks on the built book, at the quick budget
#
# For teachers (see book/teaching.md):
#   make assignments                 student notebooks + otter-grader autograders in _build/assignments
#   make grade SUBMISSIONS=<folder>  grade every notebook there: _build/grades/grades.csv + feedback/

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
VENV := .venv
GAN_LAB_BUDGET ?= book
# Finished training runs are cached (gan_lab.runs); the published build and the tests train everything
# anyway, unless `make book REUSE=1` asks to load what an identical earlier run (same settings, budget,
# seed offset and gan_lab code) finished.
REUSE ?= 0

# Grading executes each submission; the grade does not depend on the figures, so it runs at the quick budget.
GRADE_BUDGET ?= quick
GRADE_JOBS ?= 1

.PHONY: book test assignments grade FORCE

# At the full budget a cell trains at the papers' scale (chapter 6: 20,000 generator steps at 64 px), so the
# build uses a copy of _config.yml without the per-cell time limit.
FULL_CONFIG := _build/_config.full.yml
BOOK_CONFIG := $(if $(filter full,$(GAN_LAB_BUDGET)),$(FULL_CONFIG),_config.yml)

# REUSE=1 also keeps executed notebooks in a cache whose folder is named by everything that can change an
# output besides the code cells (which jupyter-cache keys on): the budget, the seed offset, the installed
# environment (setup's stamp) and a hash of every gan_lab source file. A prose edit then re-executes nothing,
# an edit to one chapter's code re-executes that chapter, and a package edit or another budget starts afresh.
CODE_VERSION = $(shell find gan_lab -name '*.py' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
ENV_VERSION = $(shell cut -c1-12 $(VENV)/.gan-lab-setup 2>/dev/null || echo none)
EXEC_CACHE = $(CURDIR)/_build/.jupyter_cache/$(GAN_LAB_BUDGET)-offset$(or $(GAN_LAB_SEED_OFFSET),0)-env$(ENV_VERSION)-code$(CODE_VERSION)
REUSE_CONFIG := _build/_config.reuse.yml
BUILD_CONFIG := $(if $(filter 1,$(REUSE)),$(REUSE_CONFIG),$(BOOK_CONFIG))

# The CPU numerics of the numbers the chapters quote (gan_lab.settings.REFERENCE_NUMERICS, which a test keeps equal
# to this line): every x86 CPU on torch's, MKL's and oneDNN's AVX2 kernels. That brings the CI machines' runs
# close, not always to the same digits (an AVX-512 Xeon and an AMD EPYC still differ in the last bits, and a
# chaotic run can end elsewhere): a quoted outcome that moved between them is quoted as the range they gave.
# Without these variables a chapter asserts only its claims in general form.
REFERENCE_NUMERICS := ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=AVX2,STRICT ONEDNN_MAX_CPU_ISA=AVX2

book: $(BOOK_CONFIG)
	@bash scripts/setup.sh
	@$(MAKE) -s $(BUILD_CONFIG) GAN_LAB_BUDGET=$(GAN_LAB_BUDGET) REUSE=$(REUSE)
	$(REFERENCE_NUMERICS) GAN_LAB_BUDGET=$(GAN_LAB_BUDGET) GAN_LAB_REUSE=$(REUSE) $(VENV)/bin/jupyter-book build . --config $(BUILD_CONFIG) -W -n --keep-going
	@echo "Book built at budget '$(GAN_LAB_BUDGET)': $(CURDIR)/_build/html/index.html"

# The tests' training runs (gan_lab.runs stores every finished one) go to a folder of their own, removed
# afterwards: the run folder of a machine that tests every commit would otherwise grow with each code version.
test:
	@bash scripts/setup.sh
	runs=$$(mktemp -d); trap 'rm -rf "$$runs"' EXIT; \
	GAN_LAB_RUN_DIR=$$runs GAN_LAB_BUDGET=quick GAN_LAB_REUSE=0 $(VENV)/bin/python -m pytest -p no:cacheprovider --nbval-lax --nbval-current-env

assignments:
	@bash scripts/setup.sh
	$(VENV)/bin/python -m classroom.build

grade:
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=<folder of notebooks>" >&2; exit 2; }
	@bash scripts/setup.sh
	GAN_LAB_BUDGET=$(GRADE_BUDGET) GAN_LAB_REUSE=0 $(VENV)/bin/python -m classroom.grade "$(SUBMISSIONS)" --jobs $(GRADE_JOBS)

$(FULL_CONFIG): _config.yml
	@mkdir -p $(dir $@)
	sed 's/^  timeout: [0-9][0-9]*/  timeout: -1/' $< > $@.tmp
	grep -q '^  timeout: -1' $@.tmp && mv $@.tmp $@

$(REUSE_CONFIG): $(BOOK_CONFIG) FORCE
	@mkdir -p $(dir $@)
	sed 's|^  execute_notebooks: force|  execute_notebooks: cache\n  cache: $(EXEC_CACHE)|' $< > $@.tmp
	grep -q '^  execute_notebooks: cache' $@.tmp && mv $@.tmp $@
