# The two commands of the README, for a fresh Debian 12 machine:
#   make run    install what is missing, build, start the broker with --demo
#   make test   install what is missing, build, run every test suite (ctest)
# Everything else here is a step of those two.

BUILD      ?= build
BUILD_SAN  ?= build-asan
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 30
PORT       ?= 8080
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages the build and the tests need.
DEB_PKGS := build-essential cmake pkg-config \
	libwebsockets-dev libmbedtls-dev libqrencode-dev libjsmn-dev libsqlite3-dev \
	libhiredis-dev redis-server libwebsockets-evlib-uv libwebsockets-evlib-ev libcmocka-dev libzbar-dev zbar-tools \
	valgrind clang libclang-rt-14-dev chromium nginx-light openssl tmux sqlite3

.PHONY: run run-tls test deps npm-deps build build-asan build-fuzz test-asan test-fuzz soak soak-short clean

deps:
	@missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@# Node may come from Debian or elsewhere (it bundles npm then): only the
	@# commands matter, not which package provides them.
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm; \
	fi

npm-deps:
	@if [ ! -d node_modules/ws ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
		npm ci --no-audit --no-fund; \
	fi

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j$(JOBS)

build-asan: deps
	cmake -S . -B $(BUILD_SAN) -DCMAKE_BUILD_TYPE=Debug -DQRLOGIN_SANITIZE=ON
	cmake --build $(BUILD_SAN) -j$(JOBS)

# The broker for a person to try: all interfaces, so a phone on the same
# network can open the QR's URL; the demo user is demo / demo.
run: build
	@ip=$$(hostname -I 2>/dev/null | awk '{print $$1}'); ip=$${ip:-127.0.0.1}; \
	echo; echo "  PC login page:  http://$$ip:$(PORT)/"; \
	echo "  phone page:     http://$$ip:$(PORT)/m/   (user demo, password demo)"; echo; \
	exec ./$(BUILD)/qrlogin-broker serve --listen 0.0.0.0:$(PORT) --demo

# The same over HTTPS/WSS with a local CA (certs/README.md: trust
# certs/dev/ca.crt on the phone first).
TLS_PORT ?= 8443
run-tls: build
	BROKER=./$(BUILD)/qrlogin-broker PORT=$(TLS_PORT) ./certs/run-tls.sh

# Every suite: unit, black-box, browser and valgrind on the normal build;
# unit and black-box again under ASan+UBSan; then each fuzzer for
# FUZZ_SECONDS (a clang build of its own); last, the short soak.
test: build npm-deps
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -LE fuzz
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory test-fuzz
	@$(MAKE) --no-print-directory soak-short

test-asan: build-asan npm-deps
	cd $(BUILD_SAN) && ctest --output-on-failure -j$(JOBS) -L 'unit|blackbox'

build-fuzz: deps
	CC=clang cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DQRLOGIN_FUZZ=ON -DQRLOGIN_FUZZ_SECONDS=$(FUZZ_SECONDS)
	cmake --build $(BUILD_FUZZ) -j$(JOBS)

test-fuzz: build-fuzz
	cd $(BUILD_FUZZ) && ctest --output-on-failure -j$(JOBS) -L fuzz

# The soak (docs/reliability.md): a mixed workload on one SQLite node, then on three
# nodes sharing one Redis, while faults are injected; then the invariant audit. Exits
# non-zero on any broken invariant. soak-short (about 2 minutes) runs each fault type
# once per topology; `make soak SOAK_MINUTES=10` is the long run, by hand.
SOAK_MINUTES ?= 10
soak-short: build npm-deps
	QRLOGIN_BROKER=$(CURDIR)/$(BUILD)/qrlogin-broker node tests/soak/soak.mjs --seconds 40

soak: build npm-deps
	QRLOGIN_BROKER=$(CURDIR)/$(BUILD)/qrlogin-broker node tests/soak/soak.mjs --seconds $$(($(SOAK_MINUTES) * 60))

clean:
	rm -rf $(BUILD) $(BUILD_SAN) $(BUILD_FUZZ)
