# Blazing Sun — `make help` lists the targets. CI runs `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
STACK := deploy/local/stack.sh
SRC := libs services tests deploy/local bench

.PHONY: help up down ps logs urls install test lint fmt unit contracts-schemas contracts-golden admin rebuild deploy deploy-local chaos fresh-check fuzz

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

install: ## install what the stack is missing (Debian packages, Kafka, .venv); idempotent
	@deploy/local/install.sh

up: ## start the whole system on loopback (installs what is missing); idempotent
	@$(STACK) up

down: ## stop everything `make up` started (state in var/ is kept)
	@$(STACK) down

ps: ## show each component's pid and health
	@$(STACK) ps

logs: ## tail the logs (make logs NAME=kafka to follow one)
	@$(STACK) logs $(NAME)

urls: ## print the URLs of the running system
	@$(STACK) urls

lint: install ## ruff, mypy (strict), import-linter
	$(VENV)/bin/ruff check $(SRC)
	$(VENV)/bin/ruff format --check $(SRC)
	$(VENV)/bin/mypy $(wildcard libs/*/src services/*/src) deploy/local/kafka_topics.py deploy/local/smtp_sink.py
	$(VENV)/bin/lint-imports --no-cache

fmt: install ## format and autofix
	$(VENV)/bin/ruff format $(SRC)
	$(VENV)/bin/ruff check --fix $(SRC)

unit: install ## only the fast tests that need no server (not those marked integration or slow), on every core
unit: export PYTHONDONTWRITEBYTECODE :=
unit:
	$(VENV)/bin/pytest -n auto -m "not integration and not slow" libs services/*/tests/unit tests/architecture tests/deploy tests/reliability/test_fuzz.py

test: up lint ## everything CI runs: lint, unit, integration and end-to-end against the real stack
	$(VENV)/bin/pytest

contracts-schemas: install ## regenerate the committed JSON Schema / AsyncAPI of the contracts
	rm -rf libs/contracts/schemas && $(PY) -m blazing_contracts.schema libs/contracts/schemas

contracts-golden: install ## add the golden sample of any new message type or version (never rewrites one)
	$(PY) -m blazing_contracts.samples libs/contracts/golden

admin: install ## make an existing user a super admin: make admin EMAIL=someone@example.org
	@test -n "$(EMAIL)" || { echo "usage: make admin EMAIL=…"; exit 2; }
	@set -a; . deploy/local/defaults.env; [ -f .env ] && . ./.env; set +a; \
	  DATABASE_URL="$$USERS_DATABASE_URL" $(PY) -m users.entrypoints.cli make-admin "$(EMAIL)"

rebuild: install ## rebuild a service's read models from its event store: make rebuild SERVICE=ledger
	@test "$(SERVICE)" = ledger || { echo "usage: make rebuild SERVICE=ledger"; exit 2; }
	@set -a; . deploy/local/defaults.env; [ -f .env ] && . ./.env; set +a; \
	  DATABASE_URL="$$LEDGER_DATABASE_URL" $(PY) -m ledger.entrypoints.cli rebuild

# the services: the names of deploy/services.tsv (its rows are those with a port)
SERVICES := $(shell awk -F'\t' '$$2 ~ /^[0-9]+$$/ { print $$1 }' deploy/services.tsv)
deploy: ## a rolling deploy of one service of the running compose deployment, no request refused: make deploy SERVICE=ledger
	@printf '%s\n' $(SERVICES) | grep -qx -- "$(SERVICE)" || \
	  { echo "usage: make deploy SERVICE=<$(SERVICES)>"; exit 2; }
	@deploy/compose/local.sh deploy $(SERVICE)

deploy-local: ## a rolling deploy of one service of the local stack, no request refused: make deploy-local SERVICE=ledger
	@printf '%s\n' $(SERVICES) | grep -qx -- "$(SERVICE)" || \
	  { echo "usage: make deploy-local SERVICE=<$(SERVICES)>"; exit 2; }
	$(STACK) rolling $(SERVICE)

fresh-check: ## make up + bash .ci/run on a clean Debian 12 in a container (and an interrupted make up; FRESH_CI_RUNS=3: CI on 2 more clones); see tests/fresh
	@tests/fresh/fresh-check.sh

chaos: up ## a longer chaos run: faults under load, then the invariants (results in var/chaos.json)
	$(PY) tests/reliability/chaos.py --rounds 3 --workers 12

fuzz: up ## schemathesis with a random seed (printed; FUZZ_SEED=… repeats it), FUZZ_EXAMPLES=100 per operation (10 in make test), stateful; 6-11 min; not in `make test`
	$(PY) tests/reliability/fuzz.py

# The compose deployment on this machine (deploy/compose/local.sh; Docker engine started on demand).
.PHONY: images compose-up compose-down compose-test
images: ## build every image of the compose deployment here, no registry needed (cached); deploy/docker/images.sh
	@deploy/docker/images.sh

compose-up: ## the compose deployment up on this machine beside `make up` (devnet 172.28.0.0/16, no published ports)
	@deploy/compose/local.sh up

compose-down: ## stop the compose deployment (its volumes are kept; deploy/compose/local.sh down --volumes drops them)
	@deploy/compose/local.sh down

compose-test: install ## compose-up from empty volumes, the journey over HTTPS, health checks, the firewall in a netns, then down
	@tests/deploy/compose-test.sh

# The Docker Swarm stack on this machine (deploy/swarm/swarm.sh; stack blazing-swarm, a one-node swarm made on demand).
.PHONY: swarm-up swarm-down swarm-test
swarm-up: ## the swarm stack up (2 replicas of every service, 3 Kafka brokers); https://localhost:18443 via an edge relay on loopback
	@deploy/swarm/swarm.sh up

swarm-down: ## remove the swarm stack (volumes kept; deploy/swarm/swarm.sh down --volumes drops them); leaves a swarm it made
	@deploy/swarm/swarm.sh down

swarm-test: install ## swarm-up from empty volumes, the journey over HTTPS, a Kafka broker lost under writes, a rolling update under load, then down
	@deploy/swarm/swarm.sh test
