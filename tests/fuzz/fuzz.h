/* Fuzz harnesses: each file defines LLVMFuzzerTestOneInput for one parser of untrusted bytes.
 * Built with clang -fsanitize=fuzzer (cmake -DHERALD_FUZZ=ON) they are libFuzzer targets; in
 * every build, tests/fuzz/replay.c runs their corpus as an ordinary ctest test. */
#ifndef HERALD_TESTS_FUZZ_H
#define HERALD_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* For the harnesses that feed a parser in pieces: the input's first byte is the piece size
 * (0: all at once), the rest (*p, *n) the bytes. False for an input to skip (empty, or over
 * 64 KiB). */
static inline bool fuzz_pieces(const uint8_t *data, size_t size, size_t *step, const char **p,
                               size_t *n)
{
    if (size < 1 || size > 65536)
        return false;
    *step = data[0] ? data[0] : size;
    *p = (const char *)data + 1;
    *n = size - 1;
    return true;
}

#endif
