# The two commands of the README, and a few more for developers.
#   make run    install what is missing, build, start aigw on the built-in config
#   make test   install what is missing, build, run every test (plain with GCC, and
#               ASan+UBSan with clang, which also builds the fuzzers),
#               the threaded integration tests under ThreadSanitizer, and a
#               release build (-O3, what packagers build) with its unit tests
#   make fuzz   build the libFuzzer targets (clang, ASan+UBSan) and run each
#               for FUZZ_SECONDS (default 60), FUZZ_JOBS at once
#   make install  a release build of the gateway and its plugins, installed:
#               PREFIX (default /usr/local), config in SYSCONFDIR/aigw (default
#               /etc), staged under DESTDIR when given (packaging)
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
RELEASE_BUILD ?= build-release
INSTALL_BUILD ?= build-install
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
DESTDIR    ?=
ARGS       ?=
MESON_OPTS ?=

.PHONY: all deps build run test test-plain test-asan bench fuzz install clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Only what it runs: the binary and the bundled plugins (meson's "gateway"
# alias), so a first run does not compile the test suite.
run: deps $(BUILD)/build.ninja
	ninja -C $(BUILD) gateway
	./$(BUILD)/src/aigw serve $(ARGS)

# promtool is for the tests only: `make run` does not pull in Prometheus.
test: deps
	@scripts/install-deps --test --fuzz
	@scripts/run-tests $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(RELEASE_BUILD)

test-plain: deps
	@scripts/install-deps --test
	@scripts/run-tests $(BUILD)

bench: build
	@scripts/install-deps --bench
	bench/health.sh

# A bounded campaign: every target for FUZZ_SECONDS (default 60), FUZZ_JOBS
# at once, then executions and coverage per target (scripts/fuzz-campaign).
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 1
fuzz:
	@scripts/install-deps --fuzz
	@# Set up once; a failed setup stops here instead of being hidden.
	[ -f build-fuzz/build.ninja ] || CC=clang CXX=clang++ meson setup build-fuzz -Dfuzzers=true -Dsanitizers=address,undefined -Dbenchmarks=false
	ninja -C build-fuzz
	scripts/fuzz-campaign build-fuzz --seconds $(FUZZ_SECONDS) --parallel $(FUZZ_JOBS)

# Its own build directory: release (-O3), without tests and benchmarks, so
# what is installed is what packagers build and nothing more is compiled.
# `meson configure` applies a PREFIX or SYSCONFDIR that changed since the
# setup. The config example never replaces an existing aigw.toml
# (scripts/install-config).
install: deps
	[ -f $(INSTALL_BUILD)/build.ninja ] || meson setup $(INSTALL_BUILD) --buildtype=release \
	  -Dtests=false -Dbenchmarks=false --prefix=$(PREFIX) --sysconfdir=$(SYSCONFDIR) $(MESON_OPTS)
	meson configure $(INSTALL_BUILD) --prefix=$(PREFIX) --sysconfdir=$(SYSCONFDIR)
	ninja -C $(INSTALL_BUILD)
	meson install -C $(INSTALL_BUILD) --no-rebuild $(if $(DESTDIR),--destdir $(abspath $(DESTDIR)))

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(RELEASE_BUILD) $(INSTALL_BUILD) build-fuzz
