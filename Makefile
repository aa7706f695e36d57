# Two commands for a newcomer: `make demo` and `make test`.
# Needs Python 3 and make. As root on Debian/Ubuntu it installs what is missing
# from the system (python3-venv, nodejs, chromium); everything else goes into .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Stamps live inside .venv: deleting .venv forgets them; editing setup.py or
# pyproject.toml (dependencies, entry points) redoes the install.
DEMO_STAMP := $(VENV)/.installed-demo
TEST_STAMP := $(VENV)/.installed-test
# Arguments for the demo, e.g. `make demo DEMO_ARGS="--quick --port 6007"`.
DEMO_ARGS ?=
# Node's own default names for test files (Node 18-22 differ on directory arguments).
JS_TESTS = $(shell find tests/js -type f \( -name '*.test.js' -o -name '*.test.mjs' \
	-o -name '*.test.cjs' -o -name '*_test.mjs' -o -name '*-test.mjs' \) 2>/dev/null | sort)
APT_INSTALL = DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends

.PHONY: demo test test-torch venv system-deps lint js-test py-test bench clean

# The interpreter of .venv, made once. Debian ships venv support separately
# (python3-venv): install it when root, else say what to install.
$(PY):
	@if ! $(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing Debian's python3-venv"; \
			apt-get update -q && $(APT_INSTALL) python3-venv \
				"python$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv"; \
		else \
			echo "error: $(PYTHON) cannot make a virtual environment; install python3-venv" >&2; \
			exit 1; \
		fi; \
	fi
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(DEMO_STAMP): setup.py pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[demo]'
	touch $@

$(TEST_STAMP): setup.py pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(DEMO_STAMP)

venv: $(TEST_STAMP)

# Node for the JavaScript tests and Debian's chromium for the browser tests
# (never a browser download). Without root, a missing chromium makes the browser
# tests skip loudly outside CI and fail under CI=true; a missing node fails.
system-deps:
	@missing=""; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing from Debian:$$missing"; \
		apt-get update -q && $(APT_INSTALL) $$missing; \
	elif [ -n "$$missing" ]; then \
		echo "warning: not installed (need root and apt-get):$$missing" >&2; \
	fi

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check .

js-test: system-deps
	@command -v node >/dev/null 2>&1 || { echo "error: node is needed for the JavaScript tests; install nodejs (>= 18)" >&2; exit 1; }
	@[ -n "$(JS_TESTS)" ] || { echo "error: no JavaScript tests found under tests/js/" >&2; exit 1; }
	node --test $(JS_TESTS)

py-test: $(TEST_STAMP) system-deps
	$(PY) -m pytest tests

# Every check runs even when an earlier one fails; the exit status is non-zero
# if any failed, and the failing ones are named at the end.
test: $(TEST_STAMP) system-deps
	@failed=""; \
	echo "== ruff"; $(MAKE) --no-print-directory lint || failed="$$failed lint"; \
	echo "== node --test"; $(MAKE) --no-print-directory js-test || failed="$$failed js-test"; \
	echo "== pytest"; $(MAKE) --no-print-directory py-test || failed="$$failed py-test"; \
	if [ -n "$$failed" ]; then echo "FAILED:$$failed" >&2; exit 1; fi; \
	echo "all checks passed: lint, js-test, py-test"

# The backend tests on Keras 3's torch backend (kept out of `make test`: PyTorch's
# wheels are several GB). Needs torch in .venv: `.venv/bin/pip install torch`.
test-torch: $(TEST_STAMP)
	@$(PY) -c 'import torch' 2>/dev/null || { echo "error: torch is not installed in $(VENV); run $(VENV)/bin/pip install torch" >&2; exit 1; }
	$(PY) -m pytest -m torch tests/test_backends.py

demo: $(DEMO_STAMP)
	$(PY) demo/run_demo.py $(DEMO_ARGS)

bench: $(TEST_STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info test-artifacts demo_logs
