/* fuzz_client_frame.c — libFuzzer target for libqrlogin's reading of the
 * broker's frames (client/src/qrl_frame.c, qrl_json.c): whatever arrives on
 * the socket is parsed, its fields pulled out and its event built without a
 * crash, a leak or an overread. For an accepted frame, member by member:
 * a key without escapes or dots is found again by path (as qj_member finds
 * it); a string value read back, written with the client's JSON writer and
 * read again gives the same bytes, and the public reader agrees. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "qrl_frame.h"
#include "qrlogin.h"

#define STR_MAX 4096

static char key[STR_MAX], val[STR_MAX], again[STR_MAX];

static void round_trip(const char *v)
{
    struct qjw w;
    qjw_begin(&w, "t");
    qjw_str(&w, "k", v);
    char *text = qjw_end(&w);
    if (!text)
        return;
    struct qj d;
    CHECK(qj_parse(&d, text, strlen(text)) == 0);
    CHECK(qj_str(&d, qj_member(&d, 0, "k"), again, sizeof again) == 0);
    CHECK(strcmp(again, v) == 0);
    qj_free(&d);
    free(text);
}

static void check_member(const char *js, size_t size, const struct qj *d, int k, int v, int has_nul)
{
    const char *raw;
    size_t rawlen;
    qj_raw(d, k, &raw, &rawlen);
    int plain_key = rawlen > 0 && !memchr(raw, '\\', rawlen) && !memchr(raw, '.', rawlen) &&
                    !memchr(raw, 0, rawlen) && qj_str(d, k, key, sizeof key) == 0;
    if (plain_key) {
        int at = qj_member(d, 0, key);
        CHECK(at >= 0);              /* this key, or an earlier duplicate of it */
        CHECK(qj_path(d, key) == at);
    }
    if (has_nul || qj_str(d, v, val, sizeof val) != 0)
        return;
    round_trip(val);
    if (plain_key && qj_member(d, 0, key) == v) {
        CHECK(qrl_json_string(js, size, key, again, sizeof again) == QRL_OK);
        CHECK(strcmp(again, val) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The socket hands over bytes, not a C string: a copy with nothing after
     * it, so reading past the end is caught. */
    char *js = malloc(size ? size : 1);
    if (!js)
        return 0;
    memcpy(js, data, size);
    int has_nul = memchr(data, 0, size) != NULL;

    struct qrl_frame f;
    if (qrl_frame_parse(&f, js, size) == 0) {
        CHECK(f.type[0] != '\0');
        CHECK(memchr(f.ticket, 0, sizeof f.ticket) && memchr(f.url, 0, sizeof f.url));
        CHECK(memchr(f.user_name, 0, sizeof f.user_name) && memchr(f.reason, 0, sizeof f.reason));
        struct qrl_event ev;
        if (qrl_frame_event(&f, js, size, &ev)) {
            CHECK(ev.type >= QRL_EV_TICKET && ev.type <= QRL_EV_SIGNED_OUT);
            CHECK(ev.json == js && ev.json_len == size);
        }
        int members = -1;
        CHECK(qrl_json_count(js, size, "", &members) == QRL_OK);
        const struct qj *d = &f.doc;
        int i = 1;
        for (int m = 0; m < members; m++) {
            CHECK(i + 1 < d->ntok);
            check_member(js, size, d, i, i + 1, has_nul);
            i = qj_next(d, i + 1);
        }
        CHECK(i == d->ntok);
        qrl_frame_free(&f);
    }
    free(js);
    return 0;
}
