# The two set-up commands (see README): `make run` and `make test`. Both install what they need.
VENV    := .venv
BIN     := $(VENV)/bin
PYTHON  ?= python3
HOST    ?= 127.0.0.1
PORT    ?= 5000
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

AXE     := node_modules/axe-core/axe.min.js

.PHONY: run test check setup-db chromium translations clean designsystemet

## Install, migrate, load the reference data and serve on http://127.0.0.1:5000 (SQLite).
## `make run DEMO=300` also fills it with 300 demo members and five years of history.
run: $(BIN)/.installed setup-db
	$(if $(DEMO),$(BIN)/flask demo seed --members $(DEMO) --years 5)
	$(BIN)/flask run --host $(HOST) --port $(PORT)

## Install and run the whole test suite (SQLite; set TEST_DATABASE_URL for PostgreSQL).
## `make test ARGS=tests/browser` runs a part (any pytest arguments).
test: $(BIN)/.installed chromium $(AXE)
	$(BIN)/pytest $(ARGS)

## Lint, formatting and types: what CI checks before the tests.
check: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

setup-db: $(BIN)/.installed
	$(BIN)/flask db upgrade
	$(BIN)/flask reference load

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --editable '.[demo,test,check]'
	touch $@

# Debian's Chromium drives the browser tests (Playwright cannot download a browser here).
chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

# axe-core checks every page for accessibility in the browser tests (from the npm registry; no lock file).
$(AXE):
	npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error axe-core@4.10.3

# Digdir's Designsystemet (MIT): its CSS and the «digdir» theme, vendored in static/vendor/designsystemet/
# (served by us, no CDN; committed). Run this target to refresh them, then update the versions in the README there.
DS_CSS   := @digdir/designsystemet-css@1.22.0
DS_THEME := @digdir/designsystemet-theme@1.11.0
DS_DIR   := static/vendor/designsystemet

designsystemet:
	rm -rf build/designsystemet && mkdir -p build/designsystemet $(DS_DIR)
	npm install --prefix build/designsystemet --no-save --no-package-lock --no-audit --no-fund --loglevel=error $(DS_CSS) $(DS_THEME)
	cp build/designsystemet/node_modules/@digdir/designsystemet-css/dist/src/index.css $(DS_DIR)/designsystemet.css
	cp build/designsystemet/node_modules/@digdir/designsystemet-css/LICENSE $(DS_DIR)/LICENSE-designsystemet-css
	cp build/designsystemet/node_modules/@digdir/designsystemet-theme/brand/digdir.css $(DS_DIR)/theme-digdir.css
	cp build/designsystemet/node_modules/@digdir/designsystemet-theme/LICENSE $(DS_DIR)/LICENSE-designsystemet-theme
	rm -rf build/designsystemet

## After changing texts: extract, merge into the bokmål catalogue, then translate and compile.
translations: $(BIN)/.installed
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -o messages.pot --no-location --sort-output .
	$(BIN)/pybabel -q update -i messages.pot -d translations --no-fuzzy-matching -w 100
	@echo "Translate the empty msgstr entries in translations/nb/LC_MESSAGES/messages.po, then:"
	@echo "  $(BIN)/pybabel compile -d translations"
	rm -f messages.pot

clean:
	rm -rf $(VENV) instance .pytest_cache node_modules
