/* Names of change operations, as callbacks spell them. */
#include "watch/change.h"

const char *change_op_name(enum change_op op)
{
    switch (op) {
    case CHANGE_INSERT:
        return "insert";
    case CHANGE_UPDATE:
        return "update";
    case CHANGE_DELETE:
        return "delete";
    }
    return "update";
}
