# umn - a thin driver around CMake.  See README.md.
#
#   make demo        build (debug) and run umn-demo
#   make test        build and run the whole suite four times: debug,
#                    ASan+UBSan, TSan, and release (the fast path);
#                    ends with "total: N passed, N failed, N skipped",
#                    counting ctest tests (tests/summary.sh)
#   make test-debug / test-asan / test-tsan / test-release   one of them
#   make verify      model-check the protocols in verify/ (SPIN), mutants
#                    included; ends with "N passed, N failed" (make test
#                    runs it too, in the release build: verify-spin)
#   make mutants     plant each of a few bugs in a copy of the library
#                    (tests/mutants/run.sh) and check that a test catches
#                    it; ends with "mutants: N killed of M"
#   make fuzz        build the libFuzzer harness (clang) in build/fuzz and
#                    fuzz for FUZZ_SECONDS (60); ends with "fuzz: N passed,
#                    N failed"
#   make test-aarch64  cross-build for aarch64 (build/aarch64, with
#                    cmake/aarch64-linux-gnu.cmake and Debian's arm64
#                    libraries) and run the suite under qemu-aarch64 user
#                    mode; ends with "aarch64: N passed, N failed, N skipped"
#   make release     an optimised build in build/release
#   make install     install the release build (PREFIX=/usr/local)
#
# Missing Debian packages are installed with apt-get when run as root;
# otherwise the command that would install them is printed.

PREFIX ?= /usr/local
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60
PACKAGES := cmake make gcc pkg-config liburcu-dev check clang-format git spin \
	groff-base strace \
	valgrind libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 \
	clang libclang-rt-14-dev gnuplot-nox libucx-dev liburing-dev
CTEST := ctest --output-on-failure -j$(JOBS)
# GCC 12's AddressSanitizer reads a size word before each dynamic TLS block
# that its __tls_get_addr interceptor sees; glibc 2.35 and later allocate
# those blocks themselves, so a thread's first access to a shared library's
# TLS (liburcu-bp's, from a hooked call) may read an unmapped page and die
# (about one run in three of proc-uffd-replace-all).  The interceptor only
# feeds LeakSanitizer's view of dynamic TLS.
ASAN_TLS := intercept_tls_get_addr=0

.PHONY: all deps deps-aarch64 demo test verify mutants fuzz release \
	install format clean kernel-compat

all: deps
	@$(MAKE) --no-print-directory build/debug/.built

# $(call install_missing,PACKAGES,BEFORE): as root, install the Debian
# packages of PACKAGES that are missing, running BEFORE first; otherwise
# name them, say how, and fail.
define install_missing
	@missing=""; \
	for p in $(1); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
			grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing:$$missing"; \
			$(if $(2),$(2) &&) \
			apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				$$missing >/dev/null || exit 1; \
		else \
			echo "missing Debian packages:$$missing"; \
			echo "run as root: make $@"; \
			exit 1; \
		fi; \
	fi
endef

deps:
	$(call install_missing,$(PACKAGES))

# The cross build's own needs: Debian's cross compiler, qemu's user-mode
# emulator with its binfmt_misc entry (so that every aarch64 program the
# tests start, scripts' included, runs under qemu-aarch64), and the arm64
# builds of the libraries (Debian multiarch: "dpkg --add-architecture").
AARCH64_PACKAGES := gcc-aarch64-linux-gnu qemu-user qemu-user-binfmt \
	libc6:arm64 liburcu-dev:arm64 check:arm64
BINFMT := /proc/sys/fs/binfmt_misc
ADD_ARM64 := { dpkg --print-foreign-architectures | grep -qx arm64 || \
	dpkg --add-architecture arm64; }

deps-aarch64: deps
	$(call install_missing,$(AARCH64_PACKAGES),$(ADD_ARM64))
	@if [ ! -e $(BINFMT)/qemu-aarch64 ]; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "qemu-aarch64 is not registered with binfmt_misc;" \
				"run as root: make deps-aarch64"; \
			exit 1; \
		fi; \
		[ -e $(BINFMT)/register ] || \
			mount -t binfmt_misc binfmt_misc $(BINFMT) || exit 1; \
		echo "registering qemu-aarch64 with binfmt_misc"; \
		sed -n '/^:qemu-aarch64:/p' \
			/usr/lib/binfmt.d/qemu-aarch64.conf \
			> $(BINFMT)/register || exit 1; \
	fi

# build/NAME/.built: configure and build one flavour.
build/debug/.built: FORCE
	cmake -S . -B build/debug -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build build/debug -j$(JOBS)
	@touch $@
build/asan/.built: FORCE
	cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug \
		-DUMN_SANITIZE=address >/dev/null
	cmake --build build/asan -j$(JOBS)
	@touch $@
build/tsan/.built: FORCE
	cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=Debug \
		-DUMN_SANITIZE=thread >/dev/null
	cmake --build build/tsan -j$(JOBS)
	@touch $@
build/aarch64/.built: deps-aarch64 FORCE
	cmake -S . -B build/aarch64 -DCMAKE_BUILD_TYPE=Debug \
		-DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake >/dev/null
	cmake --build build/aarch64 -j$(JOBS)
	@touch $@
build/release/.built: FORCE
	cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release \
		-DBUILD_TESTING=ON -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	cmake --build build/release -j$(JOBS)
	@touch $@
FORCE:

# The soft MMU's job, then the race a registration cache exists to win, on
# real memory (tests/proc/regcache_race.c): umn's cache against UCX's
# rcache, judged by one oracle, 3 s each.
RACE := ./build/debug/tests/proc/umn-proc-regcache race --seconds 3
demo: deps build/debug/.built
	./build/debug/tools/umn-demo
	@echo
	@echo "The race on real memory: 3 threads get and put registrations"
	@echo "of 8 buffers while a 4th unmaps one and maps new memory there."
	@echo "STALE counts registrations of memory unmapped before the lookup."
	@$(RACE) --sources all | grep -E 'STALE|per lookup|^(SKIP|FAIL)'
	@$(RACE) --cache ucx | grep -E 'STALE|per lookup|^(SKIP|FAIL)' || true

# One flavour: build, run ctest, keep the log for the summary.
test-%: deps build/%/.built
	@log=build/$*/test.log; \
	(cd build/$* && ASAN_OPTIONS=$(ASAN_TLS)$${ASAN_OPTIONS:+:$$ASAN_OPTIONS} \
		$(CTEST) -V) > $$log 2>&1; rc=$$?; \
	grep -E 'tests passed, [0-9]+ tests? failed' $$log; \
	if [ $$rc != 0 ]; then \
		grep -E '^[0-9]+: .*(:F:|:E:|umn: BUG|ERROR|WARNING)' $$log | \
			head -40; \
		echo "$* failed: see $$log"; \
	fi; \
	./tests/summary.sh $* $$log || rc=1; exit $$rc

test: deps
	@rc=0; for f in debug asan tsan release; do \
		echo "== $$f"; \
		$(MAKE) --no-print-directory test-$$f || rc=1; \
	done; \
	./tests/summary.sh total build/debug/test.log build/asan/test.log \
		build/tsan/test.log build/release/test.log || rc=1; exit $$rc

verify: deps
	./verify/run.sh

# Real drivers' notifier code, from Debian's linux-source-6.12 (fetched into
# build/kernel-compat, outside git), compiled against include/umn/linux/,
# and test_hmm's dmirror run under torture; then the compile with a
# deliberate header break, which must fail (exit 3).
KCOMPAT := ./tests/kernel-compat/run.sh $${CC:-cc} $(CURDIR) \
	$(CURDIR)/build/kernel-compat $(CURDIR)/build/debug
kernel-compat: deps build/debug/.built
	@$(KCOMPAT); rc=$$?; [ $$rc = 77 ] && exit 0; [ $$rc = 0 ] || exit $$rc; \
	$(KCOMPAT) --break >/dev/null; rc=$$?; \
	if [ $$rc = 3 ]; then echo "kernel-compat --break: fails (3), as it must"; \
	else echo "kernel-compat --break: exit $$rc, not 3: the check cannot fail"; exit 1; fi

mutants: deps
	JOBS=$(JOBS) ./tests/mutants/run.sh

# The library with -fsanitize=fuzzer-no-link,address,undefined, optimised,
# with the debug checks; the harness with libFuzzer (tests/fuzz).
fuzz: deps
	CC=clang cmake -S . -B build/fuzz -DUMN_FUZZ=ON -DUMN_DEBUG=ON \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
	cmake --build build/fuzz -j$(JOBS) --target umn-fuzz
	@./tests/fuzz/fuzz.sh build/fuzz/tests/fuzz/umn-fuzz $(FUZZ_SECONDS)

release: deps build/release/.built

install: release
	cmake --install build/release

format:
	git ls-files "*.[ch]" | xargs clang-format -i

clean:
	rm -rf build
