/* Names and messages of the error enum, generated from the same X-macro table. */
#include "core/error.h"

static const char *const names[] = {
#define NAME(name, msg) #name,
    HERALD_ERROR_MAP(NAME)
#undef NAME
};

static const char *const messages[] = {
#define MSG(name, msg) msg,
    HERALD_ERROR_MAP(MSG)
#undef MSG
};

const char *herald_err_name(enum herald_err err)
{
    if ((unsigned)err >= HERALD_ERR__COUNT)
        return "ERR_UNKNOWN";
    return names[err];
}

const char *herald_err_message(enum herald_err err)
{
    if ((unsigned)err >= HERALD_ERR__COUNT)
        return "unknown error";
    return messages[err];
}
