/* Fuzz harnesses: each file defines LLVMFuzzerTestOneInput for one parser of untrusted bytes.
 * Built with clang -fsanitize=fuzzer (cmake -DHERALD_FUZZ=ON) they are libFuzzer targets; in
 * every build, tests/fuzz/replay.c runs their corpus as an ordinary ctest test. */
#ifndef HERALD_TESTS_FUZZ_H
#define HERALD_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
