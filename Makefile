# Two commands do all the set-up on a fresh machine (see README):
#   make run    install everything, prepare the model, ingest corpus/, serve http://127.0.0.1:7860
#   make test   install everything incl. test tools (and Chromium for the browser tests), run the tests
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False
export TOKENIZERS_PARALLELISM := false
export OMP_NUM_THREADS ?= 2

.PHONY: run test install browser lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The CPU build of torch first, so that nothing pulls a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,llm]'
	touch $@

install: $(STAMP)

browser:
	bash scripts/install-browser.sh

run: $(STAMP)
	$(PY) app.py

# pytest exits 5 when it collects no tests: that is not a failure of the suite.
test: $(STAMP) browser
	$(VENV)/bin/pytest -q || [ $$? -eq 5 ]

lint: $(STAMP)
	$(VENV)/bin/ruff check assistant tests eval app.py

clean:
	rm -rf $(VENV) data out artifacts
