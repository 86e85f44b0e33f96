# Convenience targets; each is one command you can also run by hand.
UV := python3.11 -m uv
RUN := $(UV) run --frozen --all-extras

.PHONY: setup test lint bench bench-quick quickstart

setup:
	python3.11 -m pip install -q uv==0.13.8 && $(UV) sync --frozen --all-extras

test: setup
	$(RUN) bash -c 'ruff check . && sqlfluff lint sql && pytest'

lint: setup
	$(RUN) bash -c 'ruff check . && sqlfluff lint sql'

bench: setup
	$(RUN) python -m bench

bench-quick: setup
	$(RUN) python -m bench --quick

quickstart: setup
	$(RUN) judgeflow quickstart
