# gan-lab: the two commands the README gives. Each one first runs scripts/setup.sh, which sets up
# what is missing (.venv, offline assets, Chromium) and takes seconds when everything is there.
#
#   make book   build the book into _build/html at GAN_LAB_BUDGET (default: book), executing every notebook
#   make test   unit tests + every notebook under nbval + checks on the built book, at the quick budget

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
VENV := .venv
GAN_LAB_BUDGET ?= book

.PHONY: book test

book:
	@bash scripts/setup.sh
	GAN_LAB_BUDGET=$(GAN_LAB_BUDGET) $(VENV)/bin/jupyter-book build . -W -n --keep-going
	@echo "Book built at budget '$(GAN_LAB_BUDGET)': $(CURDIR)/_build/html/index.html"

test:
	@bash scripts/setup.sh
	GAN_LAB_BUDGET=quick $(VENV)/bin/python -m pytest -p no:cacheprovider --nbval-lax --nbval-current-env
