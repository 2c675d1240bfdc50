# Cadre developer commands. Each works on a fresh Debian 12 machine with python3.11 and make:
# the scripts in platform/ install what is missing (venv, requirements, PostgreSQL, Redis, Chromium).

PYTHON := .venv/bin/python

.PHONY: help setup run test services-start services-stop services-status schema bench-replay

help:
	@echo "make setup           .venv + requirements (pip runs only when requirements.txt changed)"
	@echo "make run             embedded run: SQLite, in-process Celery, demo data, http://127.0.0.1:$${PORT:-8000}/"
	@echo "make test            PostgreSQL + Redis + makemigrations check + pytest (ARGS=\"-k lease\" passes args)"
	@echo "make services-start  local PostgreSQL :54329 and Redis :63799 (prints DATABASE_URL / REDIS_URL)"
	@echo "make services-stop   stop them"
	@echo "make schema          write openapi.yaml"
	@echo "make bench-replay    run bench/replay_all.py"

setup:
	bash platform/setup.sh

run:
	bash platform/run.sh

test:
	bash platform/test.sh $(ARGS)

services-start:
	bash platform/services.sh start

services-stop:
	bash platform/services.sh stop

services-status:
	bash platform/services.sh status

schema: setup
	$(PYTHON) manage.py spectacular --file openapi.yaml

bench-replay: setup
	$(PYTHON) bench/replay_all.py
