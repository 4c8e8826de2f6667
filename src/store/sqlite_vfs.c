/* A VFS over the default one that gathers the writes of a write-ahead log into one buffer and
 * writes it with one pwrite when SQLite syncs the log (or reads it, or anything else that must
 * see it). SQLite writes each WAL frame as two writes, a 24-byte header and the page; a commit
 * of 15 record creates was about 40 pwrite calls, now one.
 *
 * Safety: a commit is durable once the log is synced, and every buffered byte is written before
 * that sync. Other connections (and processes) only read frames that the wal-index header names,
 * which SQLite updates after the sync under synchronous=FULL, Herald's setting; for any other
 * setting the buffer is also written before the writing thread touches the wal-index
 * (xShmBarrier, xShmLock on the database file), which it does before publishing frames. A
 * crash loses only unsynced frames, which SQLite treats as never committed.
 *
 * A commit is also refused when the database or its log is no longer the file at its path
 * (removed, or replaced by another file): after syncing the log, the writer checks that both
 * paths still name the files it opened, and fails the sync otherwise. SQLite writes on into an
 * unlinked file without a word, so Herald acknowledged every change made after an `rm herald.db*`
 * and lost them all at the next start. Two statx() calls a commit, about 2 µs (see file_id). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/sqlite_int.h"

/* The unix VFS writes at most 128 KiB - 1 per call (its seekAndWrite masks the length with
 * 0x1ffff), so the buffer is written before it grows past that: 29 frames of 4 KiB pages. */
#define WAL_BUF_MAX (120 * 1024)

/* Which file a path names. Read with statx asking for the inode number alone: a stat() that
 * returns the change time makes the kernel (6.13 on, multigrain timestamps) stamp the next write
 * with a fresh fine-grained time, so every log write dirtied the inode and every commit's
 * fdatasync wrote it too, a second synchronous write to the disk. */
struct file_id {
    unsigned dev_major, dev_minor;
    uint64_t ino;
};

struct vfile {
    sqlite3_file base;
    sqlite3_file *real; /* the default VFS's file, allocated right after this struct */
    bool is_wal;
    char *buf; /* gathered writes: bytes [off, off + len) of the file */
    size_t len;
    size_t cap;
    sqlite3_int64 off;
    /* A log file: its own path and its database's (valid until xClose), and the files they
     * named when it was opened. */
    const char *path;
    const char *db_path;
    struct file_id id;
    struct file_id db_id;
    bool is_moved; /* a path named another file (or none): logged once */
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs shim_vfs;
static sqlite3_io_methods shim_methods;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static atomic_long wal_writes; /* writes that reached a WAL file, for tests */

/* The WAL file this thread has unwritten bytes for (a connection is used by one thread at a
 * time, and the same thread publishes what it wrote). */
static _Thread_local struct vfile *pending;

/* The OS error of this thread's last failed file operation (0: none since it was taken): the
 * unix VFS keeps it per file and answers xGetLastError with whatever errno holds by then, so
 * SQLite's own record of it (sqlite3_system_errno) was 0 by the time a failure was logged. */
static _Thread_local int last_errno;

static int noted(int rc)
{
    if (rc != SQLITE_OK && errno)
        last_errno = errno;
    return rc;
}

static int flush(struct vfile *f)
{
    if (!f->len)
        return SQLITE_OK;
    errno = 0;
    int rc = noted(f->real->pMethods->xWrite(f->real, f->buf, (int)f->len, f->off));
    atomic_fetch_add(&wal_writes, 1);
    f->len = 0;
    if (pending == f)
        pending = NULL;
    return rc;
}

static int flush_pending(void)
{
    return pending ? flush(pending) : SQLITE_OK;
}

static struct vfile *vf(sqlite3_file *file)
{
    return (struct vfile *)file;
}

static int x_close(sqlite3_file *file)
{
    struct vfile *f = vf(file);
    int rc = flush(f);
    int rc2 = f->real->pMethods->xClose(f->real);
    free(f->buf);
    f->buf = NULL;
    return rc != SQLITE_OK ? rc : rc2;
}

static int x_read(sqlite3_file *file, void *p, int amt, sqlite3_int64 ofst)
{
    struct vfile *f = vf(file);
    int rc = flush(f);
    if (rc != SQLITE_OK)
        return rc;
    errno = 0;
    return noted(f->real->pMethods->xRead(f->real, p, amt, ofst));
}

static int x_write(sqlite3_file *file, const void *p, int amt, sqlite3_int64 ofst)
{
    struct vfile *f = vf(file);
    if (!f->is_wal) {
        errno = 0;
        return noted(f->real->pMethods->xWrite(f->real, p, amt, ofst));
    }
    size_t n = (size_t)amt;
    if (f->len && (ofst != f->off + (sqlite3_int64)f->len || f->len + n > WAL_BUF_MAX)) {
        int rc = flush(f);
        if (rc != SQLITE_OK)
            return rc;
    }
    if (n > WAL_BUF_MAX) {
        atomic_fetch_add(&wal_writes, 1);
        errno = 0;
        return noted(f->real->pMethods->xWrite(f->real, p, amt, ofst));
    }
    if (!f->len)
        f->off = ofst;
    if (f->len + n > f->cap) {
        size_t cap = f->cap ? f->cap : 64 * 1024;
        while (cap < f->len + n)
            cap *= 2;
        char *grown = realloc(f->buf, cap);
        if (!grown)
            return SQLITE_IOERR_NOMEM;
        f->buf = grown;
        f->cap = cap;
    }
    memcpy(f->buf + f->len, p, n);
    f->len += n;
    pending = f;
    return SQLITE_OK;
}

static int x_truncate(sqlite3_file *file, sqlite3_int64 size)
{
    struct vfile *f = vf(file);
    int rc = flush(f);
    errno = 0;
    return rc != SQLITE_OK ? rc : noted(f->real->pMethods->xTruncate(f->real, size));
}

static bool file_id_of(const char *path, struct file_id *out)
{
    struct statx sx;
    int rc = statx(AT_FDCWD, path, 0, STATX_INO, &sx);
    if (rc == 0 && (sx.stx_mask & STATX_INO)) {
        *out = (struct file_id){
            .dev_major = sx.stx_dev_major, .dev_minor = sx.stx_dev_minor, .ino = sx.stx_ino};
        return true;
    }
    if (rc != 0 && errno != EPERM && errno != ENOSYS)
        return false;
    /* statx refused (the seccomp filters of older container runtimes answer EPERM), or it gave
     * no inode number. */
    struct stat st;
    if (stat(path, &st) != 0)
        return false;
    *out = (struct file_id){
        .dev_major = major(st.st_dev), .dev_minor = minor(st.st_dev), .ino = st.st_ino};
    return true;
}

static bool same_file(const char *path, const struct file_id *id)
{
    struct file_id now;
    return file_id_of(path, &now) && now.dev_major == id->dev_major &&
           now.dev_minor == id->dev_minor && now.ino == id->ino;
}

/* After a log's sync (a commit): SQLITE_OK while its path and its database's still name the
 * files opened, else an I/O error, so the commit fails instead of being acknowledged into a file
 * nobody will open again. */
static int check_in_place(struct vfile *f)
{
    if (!f->path || !f->db_path)
        return SQLITE_OK;
    const char *moved = !same_file(f->db_path, &f->db_id) ? f->db_path
                        : !same_file(f->path, &f->id)     ? f->path
                                                          : NULL;
    if (!moved)
        return SQLITE_OK;
    if (!f->is_moved)
        log_error("msg=\"the database file was removed or replaced while in use: every write "
                  "fails until herald is restarted\" path=\"%s\"",
                  moved);
    f->is_moved = true;
    return SQLITE_IOERR_FSYNC;
}

static int x_sync(sqlite3_file *file, int flags)
{
    struct vfile *f = vf(file);
    int rc = flush(f);
    errno = 0;
    if (rc == SQLITE_OK)
        rc = noted(f->real->pMethods->xSync(f->real, flags));
    return rc == SQLITE_OK && f->is_wal ? check_in_place(f) : rc;
}

static int x_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
    struct vfile *f = vf(file);
    int rc = f->real->pMethods->xFileSize(f->real, size);
    if (rc == SQLITE_OK && f->len && f->off + (sqlite3_int64)f->len > *size)
        *size = f->off + (sqlite3_int64)f->len;
    return rc;
}

static int x_lock(sqlite3_file *file, int level)
{
    return vf(file)->real->pMethods->xLock(vf(file)->real, level);
}

static int x_unlock(sqlite3_file *file, int level)
{
    struct vfile *f = vf(file);
    int rc = flush(f);
    int rc2 = f->real->pMethods->xUnlock(f->real, level);
    return rc != SQLITE_OK ? rc : rc2;
}

static int x_check_reserved_lock(sqlite3_file *file, int *out)
{
    return vf(file)->real->pMethods->xCheckReservedLock(vf(file)->real, out);
}

static int x_file_control(sqlite3_file *file, int op, void *arg)
{
    struct vfile *f = vf(file);
    int rc = flush(f);
    if (rc != SQLITE_OK)
        return rc;
    return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int x_sector_size(sqlite3_file *file)
{
    return vf(file)->real->pMethods->xSectorSize(vf(file)->real);
}

static int x_device_characteristics(sqlite3_file *file)
{
    return vf(file)->real->pMethods->xDeviceCharacteristics(vf(file)->real);
}

static int x_shm_map(sqlite3_file *file, int page, int size, int extend, void volatile **out)
{
    int rc = flush_pending();
    if (rc != SQLITE_OK)
        return rc;
    return vf(file)->real->pMethods->xShmMap(vf(file)->real, page, size, extend, out);
}

static int x_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
    int rc = flush_pending();
    if (rc != SQLITE_OK)
        return rc;
    return vf(file)->real->pMethods->xShmLock(vf(file)->real, offset, n, flags);
}

static void x_shm_barrier(sqlite3_file *file)
{
    flush_pending();
    vf(file)->real->pMethods->xShmBarrier(vf(file)->real);
}

static int x_shm_unmap(sqlite3_file *file, int delete_flag)
{
    flush_pending();
    return vf(file)->real->pMethods->xShmUnmap(vf(file)->real, delete_flag);
}

static int x_fetch(sqlite3_file *file, sqlite3_int64 ofst, int amt, void **pp)
{
    struct vfile *f = vf(file);
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFetch(f->real, ofst, amt, pp);
}

static int x_unfetch(sqlite3_file *file, sqlite3_int64 ofst, void *p)
{
    return vf(file)->real->pMethods->xUnfetch(vf(file)->real, ofst, p);
}

static int x_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags,
                  int *out_flags)
{
    (void)vfs;
    struct vfile *f = vf(file);
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
    int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
    f->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
    /* SQLite closes a file whose pMethods is set even when xOpen failed: pass that on. Files of
     * the default VFS have version 3 methods (shared memory, fetch), as the shim's. */
    if (f->real->pMethods && f->real->pMethods->iVersion < 3) {
        f->real->pMethods->xClose(f->real);
        f->base.pMethods = NULL;
        return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
    }
    f->base.pMethods = f->real->pMethods ? &shim_methods : NULL;
    if (rc == SQLITE_OK && f->is_wal && name) {
        const char *db = sqlite3_filename_database(name);
        if (db && file_id_of(name, &f->id) && file_id_of(db, &f->db_id)) {
            f->path = name;
            f->db_path = db;
        }
    }
    return rc;
}

/* Everything but xOpen is the default VFS's own (pAppData carries it). */
static int v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    return real_vfs->xDelete(real_vfs, name, sync_dir);
}

static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int v_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static void *v_dl_open(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs;
    return real_vfs->xDlOpen(real_vfs, name);
}

static void v_dl_error(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    real_vfs->xDlError(real_vfs, n, out);
}

static void (*v_dl_sym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    (void)vfs;
    return real_vfs->xDlSym(real_vfs, h, sym);
}

static void v_dl_close(sqlite3_vfs *vfs, void *h)
{
    (void)vfs;
    real_vfs->xDlClose(real_vfs, h);
}

static int v_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return real_vfs->xRandomness(real_vfs, n, out);
}

static int v_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return real_vfs->xSleep(real_vfs, us);
}

static int v_current_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return real_vfs->xCurrentTime(real_vfs, out);
}

static int v_get_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return last_errno ? last_errno : real_vfs->xGetLastError(real_vfs, n, out);
}

static int v_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static void setup(void)
{
    real_vfs = sqlite3_vfs_find(NULL);
    if (!real_vfs || real_vfs->iVersion < 2)
        return;
    shim_methods = (sqlite3_io_methods){
        .iVersion = 3,
        .xClose = x_close,
        .xRead = x_read,
        .xWrite = x_write,
        .xTruncate = x_truncate,
        .xSync = x_sync,
        .xFileSize = x_file_size,
        .xLock = x_lock,
        .xUnlock = x_unlock,
        .xCheckReservedLock = x_check_reserved_lock,
        .xFileControl = x_file_control,
        .xSectorSize = x_sector_size,
        .xDeviceCharacteristics = x_device_characteristics,
        .xShmMap = x_shm_map,
        .xShmLock = x_shm_lock,
        .xShmBarrier = x_shm_barrier,
        .xShmUnmap = x_shm_unmap,
        .xFetch = x_fetch,
        .xUnfetch = x_unfetch,
    };
    shim_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(struct vfile) + real_vfs->szOsFile,
        .mxPathname = real_vfs->mxPathname,
        .zName = SQ_VFS_NAME,
        .xOpen = x_open,
        .xDelete = v_delete,
        .xAccess = v_access,
        .xFullPathname = v_full_pathname,
        .xDlOpen = v_dl_open,
        .xDlError = v_dl_error,
        .xDlSym = v_dl_sym,
        .xDlClose = v_dl_close,
        .xRandomness = v_randomness,
        .xSleep = v_sleep,
        .xCurrentTime = v_current_time,
        .xGetLastError = v_get_last_error,
        .xCurrentTimeInt64 = v_current_time_int64,
    };
    sqlite3_vfs_register(&shim_vfs, 0);
}

const char *sq_vfs_name(void)
{
    pthread_once(&once, setup);
    return sqlite3_vfs_find(SQ_VFS_NAME) ? SQ_VFS_NAME : NULL;
}

int sq_vfs_take_errno(void)
{
    int e = last_errno;
    last_errno = 0;
    return e;
}

long sq_vfs_wal_writes(void)
{
    return atomic_load(&wal_writes);
}
