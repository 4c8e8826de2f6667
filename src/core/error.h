/* The program's one error enum, generated from one X-macro table that also gives each code its
 * name and message. 0 is success. Foreign errors (SQLite, libcurl) are translated
 * into these where the foreign library is called and never travel further. */
#ifndef HERALD_CORE_ERROR_H
#define HERALD_CORE_ERROR_H

#define HERALD_ERROR_MAP(X)           \
    X(OK, "success")                  \
    X(ERR_NOMEM, "out of memory")     \
    X(ERR_INVALID, "invalid input")   \
    X(ERR_NOT_FOUND, "not found")     \
    X(ERR_EXISTS, "already exists")   \
    X(ERR_LIMIT, "limit reached")     \
    X(ERR_TOO_BIG, "input too large") \
    X(ERR_STORE, "storage failure")   \
    X(ERR_IO, "input/output failure") \
    X(ERR_NET, "network failure")     \
    X(ERR_DENIED, "not allowed")      \
    X(ERR_SHUTDOWN, "shutting down")  \
    X(ERR_INTERNAL, "internal error")

enum herald_err {
#define HERALD_ERR_ENUM(name, msg) HERALD_##name,
    HERALD_ERROR_MAP(HERALD_ERR_ENUM)
#undef HERALD_ERR_ENUM
        HERALD_ERR__COUNT
};

/* Name of the code without the HERALD_ prefix ("ERR_STORE"); never NULL. */
const char *herald_err_name(enum herald_err err);
/* Human message for the code ("storage failure"); never NULL. */
const char *herald_err_message(enum herald_err err);

#endif
