# Two commands on a fresh Debian 12 machine: `make demo` and `make test`.
# Both create .venv, install the project (and, when run as root, the Debian
# libraries Qt needs), then run the demo or the checks.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Qt (even offscreen) needs these shared libraries from Debian.
APT_RUNTIME := libgl1 libegl1 libfontconfig1 libglib2.0-0 libxkbcommon0 libdbus-1-3
# A real window needs these too: Qt's xcb platform plugin loads them (PySide6 >= 6.5 will not
# start without libxcb-cursor0; without them the demo says so and runs headless).
APT_WINDOW := libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 \
              libxcb-render-util0 libxcb-shape0 libxcb-xkb1
# The test suite also needs these (private D-Bus for the emulated BlueZ; a private X server;
# headless Chromium renders a session report to a PNG; gcc builds the reference firmware core the
# emulated strap runs, gcc-arm-none-eabi checks that it builds for a Cortex-M4F).
APT_TEST := dbus-daemon xvfb xauth $(APT_WINDOW) gcc gcc-arm-none-eabi chromium

.PHONY: install demo test bench clean system-deps system-deps-window system-deps-test

install: $(STAMP)

# apt_install: install the listed Debian packages that are missing (as root), else say what is missing.
define apt_install
	@missing=""; \
	if command -v dpkg-query >/dev/null; then \
	  for p in $(1); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	  done; \
	fi; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "note: missing Debian packages:$$missing (install them: sudo apt-get install$$missing)"; \
	  fi; \
	fi
endef

system-deps:
	$(call apt_install,$(APT_RUNTIME))
	@$(PYTHON) -c "import ensurepip" 2>/dev/null || { [ "$$(id -u)" = 0 ] && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; } || true

system-deps-window:
	$(call apt_install,$(APT_WINDOW))

system-deps-test:
	$(call apt_install,$(APT_TEST))

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory system-deps
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

demo: install system-deps-window
	$(BIN)/flossmeter demo

test: install system-deps-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
