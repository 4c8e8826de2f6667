/* The store's VFS (store/sqlite_vfs.c) on real database files: a commit's log writes reach the
 * file as one write; other connections see every commit at once, under synchronous=FULL and
 * NORMAL; a process that dies keeps what it committed and nothing else; a commit fails once the
 * database is no longer the file at its path, with statx or, where statx is refused, stat; a
 * database another process is writing opens once that write is done. */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
// clang-format on
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/sqlite_int.h"
#include "store/store.h"

struct fixture {
    char dir[64];
    char db[96];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/herald-vfs-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/t.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s%s", f->db, suffixes[i]);
        unlink(path);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static void exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err);
}

static int64_t count_rows(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void expect_intact(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
}

/* A connection through the store's VFS, in WAL mode with `sync` (FULL or NORMAL). */
static sqlite3 *open_shim(const char *path, const char *sync)
{
    const char *vfs = sq_vfs_name();
    assert_non_null(vfs);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs),
                     SQLITE_OK);
    char sql[128];
    snprintf(sql, sizeof sql, "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;", sync);
    exec(db, sql);
    exec(db, "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v BLOB)");
    return db;
}

/* A plain connection that creates the file when it does not exist (rollback journal). */
static sqlite3 *open_plain_new(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    return db;
}

static sqlite3 *open_plain(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return db;
}

static void a_commit_reaches_the_log_in_one_write(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db = open_shim(f->db, "FULL");
    long before = sq_vfs_wal_writes();
    /* 200 rows of 1 KB: about 55 pages, 110 writes of the default VFS; gathered, 230 KB in
     * writes of at most 120 KiB. */
    exec(db, "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)"
             " INSERT INTO t(v) SELECT randomblob(1000) FROM n; COMMIT;");
    long writes = sq_vfs_wal_writes() - before;
    if (writes < 2 || writes > 3)
        fail_msg("a commit of about 55 pages took %ld log writes", writes);
    sqlite3 *other = open_plain(f->db);
    assert_int_equal(count_rows(other), 200);
    expect_intact(other);
    sqlite3_close(other);
    sqlite3_close(db);
}

/* Another connection reads each commit right after it, whether the log was synced (FULL) or
 * not (NORMAL: the buffer is written before the commit is published in the wal-index). */
static void other_connections_see_each_commit_at_once(void **state)
{
    struct fixture *f = *state;
    const char *modes[] = {"FULL", "NORMAL"};
    for (size_t m = 0; m < 2; m++) {
        sqlite3 *db = open_shim(f->db, modes[m]);
        sqlite3 *other = open_plain(f->db);
        int64_t base = count_rows(other);
        for (int i = 1; i <= 30; i++) {
            exec(db, "INSERT INTO t(v) VALUES (randomblob(3000))");
            if (count_rows(other) != base + i)
                fail_msg("synchronous=%s: commit %d not seen", modes[m], i);
        }
        expect_intact(other);
        sqlite3_close(other);
        sqlite3_close(db);
    }
}

/* A writer process that dies (no close, no checkpoint) keeps its commits; a transaction it had
 * not committed, though large enough to spill pages into the log, is not there. */
static void a_dead_writer_keeps_what_it_committed(void **state)
{
    struct fixture *f = *state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sqlite3 *db = open_shim(f->db, "FULL");
        exec(db, "PRAGMA cache_size=10");
        for (int i = 0; i < 40; i++)
            exec(db, "INSERT INTO t(v) VALUES (randomblob(2000))");
        exec(db, "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE"
                 " i < 300) INSERT INTO t(v) SELECT randomblob(2000) FROM n;");
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    sqlite3 *db = open_plain(f->db);
    assert_int_equal(count_rows(db), 40);
    expect_intact(db);
    sqlite3_close(db);
}

/* Makes statx fail with EPERM in this process, as the seccomp filters of older container
 * runtimes did (glibc emulates statx itself on ENOSYS, not on EPERM). False when seccomp filters
 * are not available here. */
static bool refuse_statx(void)
{
#if defined(__x86_64__) && defined(SYS_statx)
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_statx, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
           prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
#else
    return false;
#endif
}

/* In a child (exit 0: as expected, 1: a commit before the removal failed, 2: the commit after
 * it succeeded, 77: statx could not be refused): the database file is unlinked between two
 * commits, and the second must fail. */
static void removed_database_fails_the_next_commit(const char *db_path, bool is_statx_refused)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (is_statx_refused && !refuse_statx())
            _exit(77);
        sqlite3 *db = open_shim(db_path, "FULL");
        if (sqlite3_exec(db, "INSERT INTO t(v) VALUES (1)", NULL, NULL, NULL) != SQLITE_OK)
            _exit(1);
        unlink(db_path);
        int rc = sqlite3_exec(db, "INSERT INTO t(v) VALUES (2)", NULL, NULL, NULL);
        _exit(rc == SQLITE_OK ? 2 : 0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        skip();
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void a_removed_database_fails_the_next_commit(void **state)
{
    struct fixture *f = *state;
    removed_database_fails_the_next_commit(f->db, false);
}

static void without_statx_a_removed_database_still_fails_the_next_commit(void **state)
{
    struct fixture *f = *state;
    removed_database_fails_the_next_commit(f->db, true);
}

static void *commit_later(void *arg)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 300 * 1000000};
    nanosleep(&ts, NULL);
    exec(arg, "COMMIT");
    return NULL;
}

/* Another connection is writing the database (in rollback-journal mode, as a new database is
 * while a second process creates it): turning it into WAL needs an exclusive lock, and SQLite
 * answers SQLITE_BUSY at once, without the busy handler, while this connection holds a shared
 * lock. The store waits for the write to end instead of failing to open ("database is locked":
 * `serve` and `token create` started together on a new database failed about once in 80). */
static void a_database_being_written_opens_once_the_write_is_done(void **state)
{
    struct fixture *f = *state;
    sqlite3 *other = open_plain_new(f->db);
    exec(other, "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB); BEGIN IMMEDIATE;"
                "INSERT INTO t(v) VALUES (1)");
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, commit_later, other), 0);
    struct store *s = NULL;
    enum herald_err err = store_open(f->db, &s);
    pthread_join(th, NULL);
    sqlite3_close(other);
    assert_int_equal(err, HERALD_OK);
    store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_commit_reaches_the_log_in_one_write, setup, teardown),
        cmocka_unit_test_setup_teardown(other_connections_see_each_commit_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(a_dead_writer_keeps_what_it_committed, setup, teardown),
        cmocka_unit_test_setup_teardown(a_removed_database_fails_the_next_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(
            without_statx_a_removed_database_still_fails_the_next_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(a_database_being_written_opens_once_the_write_is_done,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
