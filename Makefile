# FlyQ's front door. It installs what is missing from Debian, then forwards
# to CMake; CMake does the real work.
#
#   make          build (RelWithDebInfo) into build/
#   make run      build and start the broker with examples/flyq.lua
#   make test     build and run every test (ctest), then `make asan` (CI)
#   make asan     the same tests under AddressSanitizer + UBSan (build-asan/)
#   make bench    storage and broker benchmarks
#   make fuzz     build the libFuzzer targets (build-fuzz/) and run each one
#                 for FUZZ_SECONDS (fuzz/run.sh)
#   make crashtest  the long crash-consistency run: 1000 SIGKILLs with
#                 acks=all, then 1000 with acks=1 (docs/reliability.md)
#   make distclean  remove build directories

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CONFIG     ?= examples/flyq.lua
DEBS       := cmake gcc make pkg-config liblua5.4-dev lua5.4 libuv1-dev \
              lua-cjson lua-busted libjansson-dev clang libclang-rt-14-dev \
              nettle-dev

.PHONY: all deps run test asan bench fuzz crashtest distclean

all: $(BUILD)/.configured
	cmake --build $(BUILD) -j $(JOBS)

# Installs the Debian packages that are not installed yet (as root, or via
# sudo). A no-op when everything is present.
deps:
	@missing=""; for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' \
	    || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(BUILD)/.configured: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	@touch $@

$(ASAN_BUILD)/.configured: | deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DFLYQ_SANITIZE=ON
	@touch $@

run: all
	$(BUILD)/flyq serve -c $(CONFIG)

# The suite, then the suite again under the sanitizers; ctest's summary of
# the sanitizer pass is the last thing printed.
test: all
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory asan

# The fuzz smoke test (label fuzz) is left out: its fuzzers are built with
# ASan and UBSan already, and it ran in the first pass of `make test`.
asan: $(ASAN_BUILD)/.configured
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -LE fuzz

bench: all
	cmake --build $(BUILD) --target bench

fuzz: | deps
	JOBS=$(JOBS) sh fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

crashtest: $(BUILD)/.configured
	cmake --build $(BUILD) -j $(JOBS) --target crashtest-long

distclean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
