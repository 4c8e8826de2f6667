# A small driver over CMake. `make` builds build/herald (release); `make test` builds it and the
# sanitizer configuration in build-test/, and runs every test through ctest (the integration
# tests twice: against the sanitized binary and against build/herald).
JOBS ?= $(shell nproc)
MAKEFLAGS += --no-print-directory

.PHONY: all deps herald test run format clean bench

all: herald

deps:
	@scripts/install-deps

herald: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
	@cmake --build build -j $(JOBS)

test: herald
	@cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DHERALD_SANITIZE=ON -DHERALD_WERROR=ON \
		-DHERALD_RELEASE_BIN=$(CURDIR)/build/herald >/dev/null
	@cmake --build build-test -j $(JOBS)
	@# A failing test runs once more before it fails the suite: two timing-sensitive
	@# integration cases (retention pruning, watch) once failed once each in ~20 loaded runs;
	@# none failed in 14 runs at nice 10 beside other builds since (2026-11-27). A real
	@# regression fails twice and still fails the suite.
	@cd build-test && ctest --output-on-failure -j $(JOBS) --repeat until-pass:2

run: herald
	@scripts/run

format:
	@clang-format -i $$(git ls-files 'src/*.[ch]' 'tests/*.[ch]' 'bench/*.[ch]')

bench: herald
	@bench/run

clean:
	rm -rf build build-test
