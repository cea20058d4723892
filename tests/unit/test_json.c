/* test_json.c — strict reader (every jsmn leniency of docs/architecture.md, L4, must be
 * rejected), accessors, and the jw_* writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

static struct json_doc doc; /* large (128 tokens): keep it off the stack */

static int parse(const char *s)
{
    return json_parse(&doc, s, strlen(s));
}

static int parse_n(const char *s, size_t n)
{
    return json_parse(&doc, s, n);
}

/* ---- acceptance ---- */

static void accepts_valid_documents(void **state)
{
    static const char *ok[] = {
        "{}",
        " \t\r\n{ } \t\r\n",
        "{\"a\":1}",
        "{\"a\":-0,\"b\":0.5,\"c\":-12.25e+3,\"d\":1E-2,\"e\":0e0}",
        "{\"t\":true,\"f\":false,\"n\":null}",
        "{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00\"}",
        "{\"u\":\"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"}",
        "{\"arr\":[],\"o\":{},\"mix\":[1,\"x\",{\"y\":[true,null]},[]]}",
        "{\"\":\"empty key\"}",
        "{\"a\":{\"a\":1}}", /* same key at different levels is fine */
        "{\"x\":\"\x7f\"}",  /* DEL is not a control char in JSON */
    };
    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (parse(ok[i]) != 0)
            fail_msg("rejected valid: %s", ok[i]);
        assert_int_equal(json_type(&doc, 0), 'o');
    }
}

/* {"k": + depth-1 nested containers around 1 + }: `depth` containers in all.
 * 8 = JSON_MAX_DEPTH is the limit, 9 is rejected. */
static void build_nested(char *buf, size_t cap, int depth, char open, char close)
{
    size_t o = (size_t)snprintf(buf, cap, "{\"k\":");
    for (int i = 1; i < depth; i++)
        o += (size_t)snprintf(buf + o, cap - o, open == '{' ? "{\"k\":" : "[");
    o += (size_t)snprintf(buf + o, cap - o, "1");
    for (int i = 1; i < depth; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%c", close);
    snprintf(buf + o, cap - o, "}");
}

static void depth_limit(void **state)
{
    char buf[256];
    (void)state;
    build_nested(buf, sizeof(buf), JSON_MAX_DEPTH, '[', ']');
    assert_int_equal(parse(buf), 0);
    build_nested(buf, sizeof(buf), JSON_MAX_DEPTH + 1, '[', ']');
    assert_int_equal(parse(buf), -1);
    build_nested(buf, sizeof(buf), JSON_MAX_DEPTH, '{', '}');
    assert_int_equal(parse(buf), 0);
    build_nested(buf, sizeof(buf), JSON_MAX_DEPTH + 1, '{', '}');
    assert_int_equal(parse(buf), -1);
}

/* {"a":[0,0,...]}: 1 object + 1 key + 1 array + n elements. */
static void token_limit(void **state)
{
    char buf[1024];
    size_t o;
    (void)state;
    for (int n = JSON_MAX_TOKENS - 3; n <= JSON_MAX_TOKENS - 2; n++) {
        o = (size_t)snprintf(buf, sizeof(buf), "{\"a\":[");
        for (int i = 0; i < n; i++)
            o += (size_t)snprintf(buf + o, sizeof(buf) - o, i ? ",0" : "0");
        snprintf(buf + o, sizeof(buf) - o, "]}");
        if (n + 3 <= JSON_MAX_TOKENS)
            assert_int_equal(parse(buf), 0);
        else
            assert_int_equal(parse(buf), -1); /* 129 tokens */
    }
    assert_int_equal(doc.ntok, 0);
}

/* ---- rejection: every jsmn leniency and more ---- */

static void rejects_invalid(void **state)
{
    static const char *bad[] = {
        "", " ", "[1,]", "[]", "[1]", "123", "\"str\"", "true", "null",
        "{\"a\":[1,]}", "{\"a\":{\"b\":[1,2,]}}", "{\"a\":1,}", "{,}", "{\"a\":1,,\"b\":2}",
        "{} {}", "{}x", "{}}", "{", "{\"a\":1", "{\"a\"}", "{\"a\" 1}", "{\"a\":}",
        "{\"a\":trueX}", "{\"a\":tru}", "{\"a\":True}", "{\"a\":nul}", "{\"a\":nulll}",
        "{\"a\":-}", "{\"a\":01}", "{\"a\":-01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":1e}",
        "{\"a\":1e+}", "{\"a\":+1}", "{\"a\":0x10}", "{\"a\":NaN}", "{\"a\":Infinity}",
        "{\"a\":\"tab\there\"}", "{\"a\":\"nl\nhere\"}", "{\"a\":\"\\x41\"}",
        "{\"a\":\"\\u12\"}", "{\"a\":\"\\u12G4\"}", "{\"a\":\"\\\"}", "{\"a\":'x'}",
        "{a:1}", "{\"a\":b}", "{1:2}", "{\"a\":1 \"b\":2}", "{\"a\":[1 2]}",
        "{\"a\":1,\"a\":2}", "{\"a\":1,\"\\u0061\":2}", "{\"/\":1,\"\\/\":2}",
        "{\"o\":{\"x\":1,\"y\":2,\"x\":3}}", "{\"o\":[{\"k\":1,\"k\":1}]}",
        /* lone / misordered surrogates */
        "{\"a\":\"\\uD800\"}", "{\"a\":\"\\uDC00\"}", "{\"a\":\"\\uD800x\"}",
        "{\"a\":\"\\uD800\\u0041\"}", "{\"a\":\"\\uDE00\\uD83D\"}", "{\"a\":\"\\uD800\\uD800\"}",
        /* invalid UTF-8 */
        "{\"a\":\"\x80\"}", "{\"a\":\"\xbf\"}", "{\"a\":\"\xc3\"}", "{\"a\":\"\xc3x\"}",
        "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xc1\xbf\"}",       /* overlong 2-byte */
        "{\"a\":\"\xe0\x80\xaf\"}", "{\"a\":\"\xe0\x9f\xbf\"}", /* overlong 3-byte */
        "{\"a\":\"\xf0\x80\x80\xaf\"}", "{\"a\":\"\xf0\x8f\xbf\xbf\"}", /* overlong 4 */
        "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xed\xbf\xbf\"}", /* UTF-8 surrogates */
        "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\xf5\x80\x80\x80\"}", /* > U+10FFFF */
        "{\"a\":\"\xfe\"}", "{\"a\":\"\xff\"}", "{\"a\":\"\xe2\x82\"}",
        "{\"\xff\":1}", "\xef\xbb\xbf{}", /* BOM is not JSON */
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(bad[i]) != -1)
            fail_msg("accepted invalid #%zu: %s", i, bad[i]);
        assert_int_equal(doc.ntok, 0);
        assert_int_equal(json_member(&doc, 0, "a"), -1);
    }
}

static void rejects_embedded_nul_and_respects_len(void **state)
{
    static const char withnul[] = "{\"a\":\"x\0y\"}";
    (void)state;
    assert_int_equal(parse_n(withnul, sizeof(withnul) - 1), -1);
    assert_int_equal(parse_n("{\"a\":1}", 7), 0);
    assert_int_equal(parse_n("{\"a\":1}", 6), -1); /* truncated by len */
    assert_int_equal(parse_n("{\"a\":1}GARBAGE", 7), 0);
    assert_int_equal(json_parse(&doc, NULL, 0), -1);
}

/* ---- member lookup ---- */

static void member_lookup_skips_subtrees(void **state)
{
    const char *js = "{\"o\":{\"x\":1,\"y\":{\"z\":[1,{\"x\":2},[3,[4]]]},\"target\":5},"
                     "\"arr\":[{\"target\":6},[\"target\"]],\"target\":7,\"last\":\"v\"}";
    int64_t v = 0;
    int o, y;
    char s[8];
    (void)state;
    assert_int_equal(parse(js), 0);
    assert_int_equal(json_get_int(&doc, 0, "target", &v), JSON_OK);
    assert_int_equal(v, 7);
    o = json_get_obj(&doc, 0, "o");
    assert_true(o > 0);
    assert_int_equal(json_get_int(&doc, o, "target", &v), JSON_OK);
    assert_int_equal(v, 5);
    assert_int_equal(json_get_int(&doc, o, "x", &v), JSON_OK);
    assert_int_equal(v, 1);
    y = json_get_obj(&doc, o, "y");
    assert_true(y > o);
    assert_int_equal(json_type(&doc, json_member(&doc, y, "z")), 'a');
    assert_int_equal(json_member(&doc, y, "x"), -1); /* only direct members */
    assert_int_equal(json_get_str(&doc, 0, "last", s, sizeof(s), NULL), JSON_OK);
    assert_string_equal(s, "v");
    assert_int_equal(json_get_obj(&doc, 0, "arr"), JSON_WRONG_TYPE);
    assert_int_equal(json_get_obj(&doc, 0, "nope"), JSON_MISSING);
    assert_int_equal(json_get_int(&doc, 0, "nope", &v), JSON_MISSING);
    /* a non-object index or out-of-range index finds nothing */
    assert_int_equal(json_member(&doc, json_member(&doc, 0, "arr"), "target"), -1);
    assert_int_equal(json_member(&doc, -1, "o"), -1);
    assert_int_equal(json_member(&doc, doc.ntok, "o"), -1);
    assert_int_equal(json_member(&doc, 1, "o"), -1); /* token 1 is a key */
    assert_int_equal(json_type(&doc, doc.ntok), '\0');
}

static void member_key_is_unescaped(void **state)
{
    int64_t v = 0;
    (void)state;
    assert_int_equal(parse("{\"\\u0061b\\/c\":1,\"\\u00e9\":2,\"q\\\"\":3}"), 0);
    assert_int_equal(json_get_int(&doc, 0, "ab/c", &v), JSON_OK);
    assert_int_equal(v, 1);
    assert_int_equal(json_get_int(&doc, 0, "\xc3\xa9", &v), JSON_OK);
    assert_int_equal(v, 2);
    assert_int_equal(json_get_int(&doc, 0, "q\"", &v), JSON_OK);
    assert_int_equal(v, 3);
    assert_int_equal(json_member(&doc, 0, "ab"), -1);  /* prefix is not a match */
    assert_int_equal(json_member(&doc, 0, "ab/cd"), -1);
}

static void types(void **state)
{
    bool b = false;
    int64_t v;
    char s[4];
    (void)state;
    assert_int_equal(parse("{\"s\":\"x\",\"n\":1,\"t\":true,\"f\":false,\"z\":null,\"o\":{},\"a\":[]}"), 0);
    assert_int_equal(json_type(&doc, json_member(&doc, 0, "s")), 's');
    assert_int_equal(json_type(&doc, json_member(&doc, 0, "n")), 'n');
    assert_int_equal(json_type(&doc, json_member(&doc, 0, "t")), 'b');
    assert_int_equal(json_type(&doc, json_member(&doc, 0, "z")), 'z');
    assert_int_equal(json_type(&doc, json_member(&doc, 0, "o")), 'o');
    assert_int_equal(json_type(&doc, json_member(&doc, 0, "a")), 'a');
    assert_int_equal(json_get_bool(&doc, 0, "t", &b), JSON_OK);
    assert_true(b);
    assert_int_equal(json_get_bool(&doc, 0, "f", &b), JSON_OK);
    assert_false(b);
    assert_int_equal(json_get_bool(&doc, 0, "z", &b), JSON_WRONG_TYPE);
    assert_int_equal(json_get_bool(&doc, 0, "s", &b), JSON_WRONG_TYPE);
    assert_int_equal(json_get_bool(&doc, 0, "x", &b), JSON_MISSING);
    assert_int_equal(json_get_int(&doc, 0, "s", &v), JSON_WRONG_TYPE);
    assert_int_equal(json_get_int(&doc, 0, "t", &v), JSON_WRONG_TYPE);
    assert_int_equal(json_get_str(&doc, 0, "n", s, sizeof(s), NULL), JSON_WRONG_TYPE);
    assert_int_equal(json_get_str(&doc, 0, "z", s, sizeof(s), NULL), JSON_WRONG_TYPE);
    assert_int_equal(json_get_str(&doc, 0, "o", s, sizeof(s), NULL), JSON_WRONG_TYPE);
    assert_int_equal(json_get_str(&doc, 0, "x", s, sizeof(s), NULL), JSON_MISSING);
}

/* ---- strings ---- */

static void unescapes_strings(void **state)
{
    char s[64];
    size_t n = 99;
    (void)state;
    assert_int_equal(parse("{\"s\":\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\","
                           "\"u\":\"\\u0041\\u00e9\\u20AC\\uD83D\\uDE00\\uDBFF\\uDFFF\","
                           "\"raw\":\"\xf0\x9f\x98\x80\",\"e\":\"\"}"),
                     0);
    assert_int_equal(json_get_str(&doc, 0, "s", s, sizeof(s), &n), JSON_OK);
    assert_string_equal(s, "a\"b\\c/d\be\ff\ng\rh\ti");
    assert_int_equal(n, 17);
    assert_int_equal(json_get_str(&doc, 0, "u", s, sizeof(s), &n), JSON_OK);
    /* A, é (2 bytes), € (3 bytes), U+1F600 and U+10FFFF as 4-byte UTF-8 */
    assert_string_equal(s, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf");
    assert_int_equal(n, 1 + 2 + 3 + 4 + 4);
    assert_int_equal(json_get_str(&doc, 0, "raw", s, sizeof(s), &n), JSON_OK);
    assert_string_equal(s, "\xf0\x9f\x98\x80");
    assert_int_equal(json_get_str(&doc, 0, "e", s, sizeof(s), &n), JSON_OK);
    assert_string_equal(s, "");
    assert_int_equal(n, 0);
}

static void string_length_limits(void **state)
{
    char s[8];
    size_t n = 99;
    (void)state;
    assert_int_equal(parse("{\"k7\":\"1234567\",\"k8\":\"12345678\",\"esc\":\"\\u00e9\\u00e9\\u00e9\\u00e9\"}"), 0);
    assert_int_equal(json_get_str(&doc, 0, "k7", s, sizeof(s), &n), JSON_OK);
    assert_string_equal(s, "1234567");
    assert_int_equal(n, 7);
    assert_int_equal(json_get_str(&doc, 0, "k8", s, sizeof(s), &n), JSON_TOO_LONG);
    assert_string_equal(s, "");
    assert_int_equal(n, 0);
    /* the unescaped length (8 bytes) counts, not the escaped one */
    assert_int_equal(json_get_str(&doc, 0, "esc", s, sizeof(s), &n), JSON_TOO_LONG);
    {
        char s9[9];
        assert_int_equal(json_get_str(&doc, 0, "esc", s9, sizeof(s9), &n), JSON_OK);
        assert_int_equal(n, 8);
        assert_string_equal(s9, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
    }
    assert_int_equal(json_get_str(&doc, 0, "k7", s, 0, &n), JSON_TOO_LONG);
    assert_int_equal(json_get_str(&doc, 0, "k7", s, 1, &n), JSON_TOO_LONG);
}

static void string_with_nul_escape(void **state)
{
    char s[16];
    (void)state;
    assert_int_equal(parse("{\"a\":\"x\\u0000y\",\"\\u0000\":1}"), 0);
    assert_int_equal(json_get_str(&doc, 0, "a", s, sizeof(s), NULL), JSON_WRONG_TYPE);
    assert_string_equal(s, "");
    assert_int_equal(json_member(&doc, 0, ""), -1); /* "\0" is not "" */
}

/* ---- integers ---- */

static void integers(void **state)
{
    int64_t v = 42;
    (void)state;
    assert_int_equal(parse("{\"max\":9223372036854775807,\"min\":-9223372036854775808,"
                           "\"over\":9223372036854775808,\"under\":-9223372036854775809,"
                           "\"huge\":123456789012345678901234567890,\"mz\":-0,\"zero\":0,"
                           "\"frac\":1.5,\"one\":1.0,\"exp\":1e3,\"bigexp\":1e999,\"neg\":-17}"),
                     0);
    assert_int_equal(json_get_int(&doc, 0, "max", &v), JSON_OK);
    assert_true(v == INT64_MAX);
    assert_int_equal(json_get_int(&doc, 0, "min", &v), JSON_OK);
    assert_true(v == INT64_MIN);
    v = 42;
    assert_int_equal(json_get_int(&doc, 0, "over", &v), JSON_TOO_LONG);
    assert_int_equal(json_get_int(&doc, 0, "under", &v), JSON_TOO_LONG);
    assert_int_equal(json_get_int(&doc, 0, "huge", &v), JSON_TOO_LONG);
    assert_int_equal(v, 42); /* untouched on failure */
    assert_int_equal(json_get_int(&doc, 0, "mz", &v), JSON_OK);
    assert_int_equal(v, 0);
    v = 42;
    assert_int_equal(json_get_int(&doc, 0, "zero", &v), JSON_OK);
    assert_int_equal(v, 0);
    assert_int_equal(json_get_int(&doc, 0, "neg", &v), JSON_OK);
    assert_int_equal(v, -17);
    assert_int_equal(json_get_int(&doc, 0, "frac", &v), JSON_WRONG_TYPE);
    assert_int_equal(json_get_int(&doc, 0, "one", &v), JSON_WRONG_TYPE);
    assert_int_equal(json_get_int(&doc, 0, "exp", &v), JSON_WRONG_TYPE);
    assert_int_equal(json_get_int(&doc, 0, "bigexp", &v), JSON_WRONG_TYPE);
}

/* ---- writer ---- */

static char *finish(struct jw *w, size_t *len)
{
    char *p = jw_finish(w, len);
    assert_non_null(p);
    return p;
}

static void writer_nesting_and_commas(void **state)
{
    struct jw w;
    size_t len = 0;
    char *p;
    int64_t v;
    bool b;
    (void)state;
    jw_init(&w, 0);
    jw_obj_open(&w);
    jw_kv_str(&w, "type", "hello");
    jw_kv_int(&w, "n", -5);
    jw_kv_bool(&w, "ok", true);
    jw_key(&w, "arr");
    jw_arr_open(&w);
    jw_int(&w, 1);
    jw_str(&w, "two");
    jw_null(&w);
    jw_arr_open(&w);
    jw_arr_close(&w);
    jw_obj_open(&w);
    jw_kv_bool(&w, "f", false);
    jw_obj_close(&w);
    jw_arr_close(&w);
    jw_key(&w, "raw");
    jw_raw(&w, "{\"x\":[1,2]}", 11);
    jw_key(&w, "empty");
    jw_obj_open(&w);
    jw_obj_close(&w);
    jw_kv_int(&w, "min", INT64_MIN);
    jw_obj_close(&w);
    p = finish(&w, &len);
    assert_string_equal(p, "{\"type\":\"hello\",\"n\":-5,\"ok\":true,\"arr\":[1,\"two\",null,[],"
                           "{\"f\":false}],\"raw\":{\"x\":[1,2]},\"empty\":{},"
                           "\"min\":-9223372036854775808}");
    assert_int_equal(len, strlen(p));
    assert_int_equal(json_parse(&doc, p, len), 0);
    assert_int_equal(json_get_int(&doc, 0, "min", &v), JSON_OK);
    assert_true(v == INT64_MIN);
    assert_int_equal(json_get_bool(&doc, 0, "ok", &b), JSON_OK);
    assert_true(b);
    free(p);
}

static void writer_escaping_round_trips(void **state)
{
    static const char *vals[] = {
        "plain",
        "",
        "quote\" backslash\\ slash/",
        "\b\f\n\r\t",
        "\x01\x02\x1f\x7f",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
        "line\xe2\x80\xa8sep\xe2\x80\xa9para",
        "</script><!-- & -->",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        struct jw w;
        size_t len;
        char *p, out[128];
        size_t n;
        jw_init(&w, 0);
        jw_obj_open(&w);
        jw_kv_str(&w, vals[i], vals[i]); /* keys are escaped too */
        jw_obj_close(&w);
        p = finish(&w, &len);
        assert_int_equal(json_parse(&doc, p, len), 0);
        assert_int_equal(json_get_str(&doc, 0, vals[i], out, sizeof(out), &n), JSON_OK);
        assert_string_equal(out, vals[i]);
        assert_int_equal(n, strlen(vals[i]));
        /* output must hold no raw control char and no raw U+2028/9 */
        for (size_t k = 0; k < len; k++)
            assert_true((unsigned char)p[k] >= 0x20);
        assert_null(strstr(p, "\xe2\x80\xa8"));
        assert_null(strstr(p, "\xe2\x80\xa9"));
        free(p);
    }
}

static void writer_exact_escapes(void **state)
{
    struct jw w;
    char *p;
    (void)state;
    jw_init(&w, 0);
    jw_arr_open(&w);
    jw_str(&w, "\"\\\n\x01\xe2\x80\xa8");
    jw_strn(&w, "a\0b", 3);
    jw_arr_close(&w);
    p = finish(&w, NULL);
    assert_string_equal(p, "[\"\\\"\\\\\\n\\u0001\\u2028\",\"a\\u0000b\"]");
    free(p);
}

static void writer_invalid_utf8_replaced(void **state)
{
    /* stray continuation, truncated sequence, overlong, UTF-8 surrogate,
     * > U+10FFFF, 0xFF, and a truncated sequence at the very end */
    static const char bad[] = "a\x80" "b\xc3" "c\xc0\xaf" "d\xed\xa0\x80" "e\xf4\x90\x80\x80" "f\xff" "\xe2\x82";
    struct jw w;
    size_t len;
    char *p, out[128];
    (void)state;
    jw_init(&w, 0);
    jw_obj_open(&w);
    jw_key(&w, "s");
    jw_strn(&w, bad, sizeof(bad) - 1);
    jw_kv_str(&w, "k\xff", "v");
    jw_obj_close(&w);
    p = finish(&w, &len);
    assert_int_equal(json_parse(&doc, p, len), 0);
    assert_int_equal(json_get_str(&doc, 0, "s", out, sizeof(out), NULL), JSON_OK);
#define R "\xef\xbf\xbd"
    assert_string_equal(out, "a" R "b" R "c" R R "d" R R R "e" R R R R "f" R R R);
    assert_int_equal(json_get_str(&doc, 0, "k" R, out, sizeof(out), NULL), JSON_OK);
    assert_string_equal(out, "v");
#undef R
    free(p);
}

static void writer_headroom(void **state)
{
    enum { HR = 16 };
    struct jw w;
    size_t len;
    char *p, big[600];
    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    jw_init(&w, HR);
    jw_obj_open(&w);
    for (int i = 0; i < 4; i++) { /* forces several doublings past 256 */
        char key[4] = {'k', (char)('0' + i), 0};
        jw_kv_str(&w, key, big);
    }
    jw_obj_close(&w);
    p = finish(&w, &len);
    for (int i = 0; i < HR; i++)
        assert_int_equal(p[i], 0);
    assert_int_equal(p[HR], '{');
    assert_int_equal(strlen(p + HR), len);
    assert_int_equal(p[HR + len - 1], '}');
    assert_int_equal(json_parse(&doc, p + HR, len), 0);
    assert_int_equal(doc.ntok, 9);
    free(p);
}

static void writer_misuse_fails(void **state)
{
    struct jw w;
    size_t len = 7;
    (void)state;
    /* unclosed */
    jw_init(&w, 4);
    jw_obj_open(&w);
    assert_null(jw_finish(&w, &len));
    assert_int_equal(len, 0);
    /* too deep for json_parse */
    jw_init(&w, 0);
    for (int i = 0; i <= JSON_MAX_DEPTH; i++)
        jw_arr_open(&w);
    for (int i = 0; i <= JSON_MAX_DEPTH; i++)
        jw_arr_close(&w);
    assert_null(jw_finish(&w, NULL));
    /* exactly JSON_MAX_DEPTH is fine */
    jw_init(&w, 0);
    jw_obj_open(&w);
    jw_key(&w, "k");
    for (int i = 1; i < JSON_MAX_DEPTH; i++)
        jw_arr_open(&w);
    for (int i = 1; i < JSON_MAX_DEPTH; i++)
        jw_arr_close(&w);
    jw_obj_close(&w);
    {
        char *p = finish(&w, &len);
        assert_int_equal(json_parse(&doc, p, len), 0);
        free(p);
    }
    /* close underflow, dangling key, two top-level values */
    jw_init(&w, 0);
    jw_obj_close(&w);
    assert_null(jw_finish(&w, NULL));
    jw_init(&w, 0);
    jw_obj_open(&w);
    jw_key(&w, "a");
    jw_obj_close(&w);
    assert_null(jw_finish(&w, NULL));
    jw_init(&w, 0);
    jw_obj_open(&w);
    jw_obj_close(&w);
    jw_obj_open(&w);
    jw_obj_close(&w);
    assert_null(jw_finish(&w, NULL));
    /* discard after partial build frees everything (checked by ASan/valgrind) */
    jw_init(&w, 8);
    jw_obj_open(&w);
    jw_kv_str(&w, "a", "b");
    jw_discard(&w);
    jw_discard(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_valid_documents),
        cmocka_unit_test(depth_limit),
        cmocka_unit_test(token_limit),
        cmocka_unit_test(rejects_invalid),
        cmocka_unit_test(rejects_embedded_nul_and_respects_len),
        cmocka_unit_test(member_lookup_skips_subtrees),
        cmocka_unit_test(member_key_is_unescaped),
        cmocka_unit_test(types),
        cmocka_unit_test(unescapes_strings),
        cmocka_unit_test(string_length_limits),
        cmocka_unit_test(string_with_nul_escape),
        cmocka_unit_test(integers),
        cmocka_unit_test(writer_nesting_and_commas),
        cmocka_unit_test(writer_escaping_round_trips),
        cmocka_unit_test(writer_exact_escapes),
        cmocka_unit_test(writer_invalid_utf8_replaced),
        cmocka_unit_test(writer_headroom),
        cmocka_unit_test(writer_misuse_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
