/* Temporary directories of the unit suites that open real databases. */
#ifndef HERALD_TEST_TMPDIR_H
#define HERALD_TEST_TMPDIR_H

/* Removes every file in `dir` (the database and what it left beside it: -wal, -shm,
 * -revocations...), then the directory. */
void tmpdir_remove(const char *dir);

#endif
