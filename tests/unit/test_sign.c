/* Standard Webhooks signatures, secrets, tokens and digests. */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
// clang-format on
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "deliver/sign.h"

/* The reference vector published with the Standard Webhooks libraries. */
#define REF_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define REF_MSG_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define REF_TS 1614265330
#define REF_BODY "{\"test\": 2432232314}"
#define REF_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

static void signs_standard_webhooks_reference_vector(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    assert_int_equal(sign_webhook(REF_SECRET, REF_MSG_ID, REF_TS, REF_BODY, strlen(REF_BODY), &b),
                     HERALD_OK);
    assert_string_equal(b.data, REF_SIG);
    buf_fini(&b);
}

/* A prepared key signs like the one-shot function, again and again (each signature works on a
 * copy of the key's context, so none leaks into the next), and refuses a malformed secret. */
static void prepared_key_signs_reference_vector_repeatedly(void **state)
{
    (void)state;
    struct sign_key *k = sign_key_new(REF_SECRET);
    assert_non_null(k);
    for (int i = 0; i < 3; i++) {
        struct buf b;
        buf_init(&b);
        assert_int_equal(sign_key_webhook(k, REF_MSG_ID, REF_TS, REF_BODY, strlen(REF_BODY), &b),
                         HERALD_OK);
        assert_string_equal(b.data, REF_SIG);
        buf_fini(&b);
    }
    struct buf other;
    buf_init(&other);
    assert_int_equal(sign_key_webhook(k, "msg_2", REF_TS, REF_BODY, strlen(REF_BODY), &other),
                     HERALD_OK);
    assert_string_not_equal(other.data, REF_SIG);
    buf_fini(&other);
    sign_key_free(k);
    assert_null(sign_key_new("whsec_not base64!"));
    sign_key_free(NULL);
}

static void accepts_secret_without_prefix(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    assert_int_equal(sign_webhook(REF_SECRET + strlen("whsec_"), REF_MSG_ID, REF_TS, REF_BODY,
                                  strlen(REF_BODY), &b),
                     HERALD_OK);
    assert_string_equal(b.data, REF_SIG);
    buf_fini(&b);
}

static void appends_after_existing_text(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "webhook-signature: ");
    assert_int_equal(sign_webhook(REF_SECRET, REF_MSG_ID, REF_TS, REF_BODY, strlen(REF_BODY), &b),
                     HERALD_OK);
    buf_putc(&b, ' ');
    assert_int_equal(sign_webhook(REF_SECRET, REF_MSG_ID, REF_TS, REF_BODY, strlen(REF_BODY), &b),
                     HERALD_OK);
    assert_string_equal(b.data, "webhook-signature: " REF_SIG " " REF_SIG);
    buf_fini(&b);
}

static void signature_covers_id_timestamp_and_every_body_byte(void **state)
{
    (void)state;
    struct buf a, b, c, d;
    buf_init(&a);
    buf_init(&b);
    buf_init(&c);
    buf_init(&d);
    const char body[] = "{\"a\":1}\0tail";
    assert_int_equal(sign_webhook(REF_SECRET, "msg_1", 1, body, sizeof body - 1, &a), HERALD_OK);
    assert_int_equal(sign_webhook(REF_SECRET, "msg_1", 1, body, 7, &b), HERALD_OK);
    assert_int_equal(sign_webhook(REF_SECRET, "msg_2", 1, body, 7, &c), HERALD_OK);
    assert_int_equal(sign_webhook(REF_SECRET, "msg_1", 2, body, 7, &d), HERALD_OK);
    assert_string_not_equal(a.data, b.data);
    assert_string_not_equal(b.data, c.data);
    assert_string_not_equal(b.data, d.data);
    buf_reset(&a);
    assert_int_equal(sign_webhook(REF_SECRET, "msg_1", 1, "", 0, &a), HERALD_OK);
    assert_int_equal(strlen(a.data), 3 + 44);
    buf_fini(&a);
    buf_fini(&b);
    buf_fini(&c);
    buf_fini(&d);
}

static void refuses_malformed_secrets(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "whsec_",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",   /* length not a multiple of 4 */
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!",  /* not base64 */
        "whsec_MfKQ9r8GKYqrTwjU PD8ILPZIo2LaLaSw", /* space */
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa-w",  /* base64url alphabet */
        "whsec_====",
        "whsec_QQ=A",
        "whsec_QR==", /* bits under the padding */
        "whsec_QUJDRA===",
    };
    uint8_t key[SIGN_KEY_MAX];
    size_t key_len;
    struct buf b;
    buf_init(&b);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (sign_secret_decode(bad[i], key, &key_len) != HERALD_ERR_INVALID)
            fail_msg("accepted '%s'", bad[i]);
        assert_int_equal(sign_webhook(bad[i], "m", 1, "x", 1, &b), HERALD_ERR_INVALID);
    }
    assert_int_equal(b.len, 0);
    assert_int_equal(sign_secret_decode(NULL, key, &key_len), HERALD_ERR_INVALID);
    assert_int_equal(sign_webhook(REF_SECRET, NULL, 1, "x", 1, &b), HERALD_ERR_INVALID);
    buf_fini(&b);
}

static void decodes_padded_keys_up_to_64_bytes(void **state)
{
    (void)state;
    uint8_t key[SIGN_KEY_MAX];
    size_t key_len = 0;
    assert_int_equal(sign_secret_decode("whsec_QQ==", key, &key_len), HERALD_OK);
    assert_int_equal(key_len, 1);
    assert_int_equal(key[0], 'A');
    assert_int_equal(sign_secret_decode("QUI=", key, &key_len), HERALD_OK);
    assert_int_equal(key_len, 2);
    assert_memory_equal(key, "AB", 2);
    assert_int_equal(sign_secret_decode(REF_SECRET, key, &key_len), HERALD_OK);
    assert_int_equal(key_len, 24);

    char secret[6 + 100];
    memcpy(secret, "whsec_", 6);
    memset(secret + 6, 'A', 88); /* 66 zero bytes: too long */
    secret[6 + 88] = '\0';
    assert_int_equal(sign_secret_decode(secret, key, &key_len), HERALD_ERR_INVALID);
    memcpy(secret + 6 + 84, "AA==", 5); /* 64 bytes */
    assert_int_equal(sign_secret_decode(secret, key, &key_len), HERALD_OK);
    assert_int_equal(key_len, 64);
}

static void new_secrets_hold_32_random_bytes(void **state)
{
    (void)state;
    char *a = sign_secret_new();
    char *b = sign_secret_new();
    assert_int_equal(strlen(a), 6 + 44);
    assert_memory_equal(a, "whsec_", 6);
    assert_string_not_equal(a, b);
    uint8_t key[SIGN_KEY_MAX];
    size_t key_len = 0;
    assert_int_equal(sign_secret_decode(a, key, &key_len), HERALD_OK);
    assert_int_equal(key_len, 32);
    struct buf sig;
    buf_init(&sig);
    assert_int_equal(sign_webhook(a, "msg_1", 1, "{}", 2, &sig), HERALD_OK);
    buf_fini(&sig);
    free(a);
    free(b);
}

static void hashes_sha256_as_lowercase_hex(void **state)
{
    (void)state;
    char out[65];
    sign_sha256_hex("abc", 3, out);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sign_sha256_hex("", 0, out);
    assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* The raw digest is the same bytes. */
    uint8_t md[32];
    sign_sha256("abc", 3, md);
    sign_hex(md, sizeof md, out);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(md[0], 0xba);
    assert_int_equal(md[31], 0xad);
}

static void random_tokens_are_prefixed_unpadded_base64url(void **state)
{
    (void)state;
    char *a = sign_random_token("1000.");
    char *b = sign_random_token("1000.");
    char *c = sign_random_token(NULL);
    assert_int_equal(strlen(a), 5 + 43);
    assert_memory_equal(a, "1000.", 5);
    assert_string_not_equal(a, b);
    assert_int_equal(strlen(c), 43);
    for (const char *p = a + 5; *p; p++) {
        bool ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                  (*p >= '0' && *p <= '9') || *p == '-' || *p == '_';
        if (!ok)
            fail_msg("unexpected '%c' in %s", *p, a);
    }
    free(a);
    free(b);
    free(c);
}

static void compares_secrets_exactly(void **state)
{
    (void)state;
    assert_true(sign_equal("abc", "abc"));
    assert_true(sign_equal("", ""));
    assert_false(sign_equal("abc", "abd"));
    assert_false(sign_equal("abc", "abcd"));
    assert_false(sign_equal(NULL, "abc"));
    assert_false(sign_equal(NULL, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(signs_standard_webhooks_reference_vector),
        cmocka_unit_test(prepared_key_signs_reference_vector_repeatedly),
        cmocka_unit_test(accepts_secret_without_prefix),
        cmocka_unit_test(appends_after_existing_text),
        cmocka_unit_test(signature_covers_id_timestamp_and_every_body_byte),
        cmocka_unit_test(refuses_malformed_secrets),
        cmocka_unit_test(decodes_padded_keys_up_to_64_bytes),
        cmocka_unit_test(new_secrets_hold_32_random_bytes),
        cmocka_unit_test(hashes_sha256_as_lowercase_hex),
        cmocka_unit_test(random_tokens_are_prefixed_unpadded_base64url),
        cmocka_unit_test(compares_secrets_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
