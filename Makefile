.PHONY: run test lint format bench

run:
	./scripts/run

test:
	./scripts/test

bench:
	./bench/run

lint:
	./scripts/setup dev
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports
	.venv/bin/mypy

format:
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .
