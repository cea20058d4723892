/* qrl_json_api.c — the public JSON readers (qrlogin.h): fields of answers
 * by path, for applications and FFI callers. Pure: no client involved. */
#include "qrl_json.h"
#include "qrlogin.h"

int qrl_json_string(const char *json, size_t len, const char *path, char *out, size_t size)
{
    struct qj d;
    if (!json || !path || !out || qj_parse(&d, json, len))
        return QRL_ERR_INVALID;
    int rc = qj_str(&d, qj_path(&d, path), out, size) ? QRL_ERR_INVALID : QRL_OK;
    qj_free(&d);
    return rc;
}

int qrl_json_int(const char *json, size_t len, const char *path, int64_t *out)
{
    struct qj d;
    if (!json || !path || !out || qj_parse(&d, json, len))
        return QRL_ERR_INVALID;
    int rc = qj_int(&d, qj_path(&d, path), out) ? QRL_ERR_INVALID : QRL_OK;
    qj_free(&d);
    return rc;
}

int qrl_json_count(const char *json, size_t len, const char *path, int *out)
{
    struct qj d;
    if (!json || !path || !out || qj_parse(&d, json, len))
        return QRL_ERR_INVALID;
    int i = *path ? qj_path(&d, path) : 0;
    int rc = qj_size(&d, i, out) ? QRL_ERR_INVALID : QRL_OK;
    qj_free(&d);
    return rc;
}
