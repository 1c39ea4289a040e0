/* Status codes: names and messages, generated from AMY_ERRNO_MAP. */
#include "amysql.h"

const char *amy_strerror(int status)
{
    switch (status) {
    case AMY_OK:
        return "success";
    case AMY_PENDING:
        return "pending";
#define AMY__XX(name, value, msg)                                              \
    case AMY_##name:                                                           \
        return msg;
        AMY_ERRNO_MAP(AMY__XX)
#undef AMY__XX
    }
    return "unknown status";
}

const char *amy_status_name(int status)
{
    switch (status) {
    case AMY_OK:
        return "AMY_OK";
    case AMY_PENDING:
        return "AMY_PENDING";
#define AMY__XX(name, value, msg)                                              \
    case AMY_##name:                                                           \
        return "AMY_" #name;
        AMY_ERRNO_MAP(AMY__XX)
#undef AMY__XX
    }
    return "AMY_UNKNOWN";
}
