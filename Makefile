# Prismaflow: the two commands a user needs are `make demo` and `make test`.
# Each sets itself up on a fresh machine: system packages (scripts/system-deps.sh: installed with
# apt-get as root, else named), virtualenv, Python dependencies, Kafka jars, broker.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
# Checkov (fixed Terraform snippets of a remediation must pass its checks) pins exact versions of
# boto3, packaging and networkx that would override the project's, so it gets its own virtualenv;
# connectors/iac/terraform.py runs it as a subprocess (tests find it at .venv-checkov/bin/checkov).
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV    := .venv-checkov
CHECKOV_STAMP   := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

.PHONY: demo test fuzz bench chaos install clean broker-stop system-deps-demo system-deps-test deploy-tools
# Prerequisites run left to right: the system packages are checked before the virtualenv is built.
.NOTPARALLEL:

# The test extra includes the dev and bench extras (launchers, psutil), so this one
# install serves demo, test, bench and chaos; runtime dependencies alone are `pip install .`.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

$(CHECKOV_STAMP):
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	@rm -f $(CHECKOV_VENV)/.installed-* && touch $(CHECKOV_STAMP)

install: $(STAMP) $(CHECKOV_STAMP)

## Run the pipeline end to end on the embedded defaults (local broker, simulators, offline analyser).
demo: system-deps-demo $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/prismaflow demo

## Run the whole test suite, broker tests included, against a real Kafka broker.
test: system-deps-test deploy-tools $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/python -m pytest

## Build helm, kube-score and docker-compose from the Go module proxy into .prismaflow/tools/bin
## (once per pinned version; the tests check the Helm chart and the compose file with them).
deploy-tools:
	@bash scripts/deploy-tools.sh

## Fuzz the edge long: 10,000 cases each for the webhook receiver and the deserialisers, 4,000 from its OpenAPI document.
fuzz: $(STAMP)
	PRISMAFLOW_FUZZ_EXAMPLES=$${PRISMAFLOW_FUZZ_EXAMPLES:-10000} $(BIN)/python -m pytest -p no:cacheprovider \
		tests/connectors/prisma/test_webhook_fuzz.py tests/connectors/prisma/test_webhook_openapi.py \
		tests/streams/test_serde_fuzz.py

## Print throughput and latency figures of the stream core (a benchmark, not a test; streams/devtools/bench).
bench: $(STAMP)
	$(BIN)/prismaflow bench

## Inject faults under traffic (broker outage, kill -9 of every process kind, ...) and print what was
## lost or doubled per fault (about 8 minutes; `make test` runs the quick version; streams/devtools/chaos).
chaos: system-deps-demo $(STAMP)
	$(BIN)/prismaflow chaos

## Java 17+ and Maven (demo; test adds rsyslog, rsyslog-gnutls, openssl): installed as root, else named.
system-deps-demo system-deps-test:
	@PYTHON='$(PYTHON)' VENV='$(VENV)' bash scripts/system-deps.sh $(@:system-deps-%=%)

broker-stop: $(STAMP)
	$(BIN)/prismaflow broker stop

clean: broker-stop
	rm -rf $(VENV) .prismaflow .pytest_cache
