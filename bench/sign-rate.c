/* sign-rate — how many ES256 signatures per second the broker's signing pool
 * can make on this machine, measured from outside the broker.
 *
 * It signs the way broker/jwt.c does: SHA-256 of a JWS signing input of the
 * size of our access tokens, then a deterministic (RFC 6979) ECDSA P-256
 * signature with a DRBG for blinding. Each thread has its own key copy,
 * because an mbedTLS ECP group must not be shared between threads.
 *
 * usage: qrlogin-sign-rate [--seconds S] [--threads N] [--json]
 * Prints the single-thread rate and the rate of N threads signing at once
 * (N defaults to the CPUs this process may use, as the broker's pool does). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#endif
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/sha256.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double seconds = 2.0;

struct worker {
    pthread_t th;
    unsigned long count;
    double secs;
    int rc;
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *sign_loop(void *arg)
{
    struct worker *w = arg;
    mbedtls_entropy_context ent;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ecdsa_context key;
    mbedtls_mpi r, s;
    mbedtls_entropy_init(&ent);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_ecdsa_init(&key);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);

    /* About the size of the broker's access-token signing input
     * (header.payload, base64url) — hashing is a tiny part either way. */
    char input[360];
    memset(input, 'A', sizeof input);

    w->rc = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent,
                                  (const unsigned char *)"sign-rate", 9);
    if (!w->rc)
        w->rc = mbedtls_ecdsa_genkey(&key, MBEDTLS_ECP_DP_SECP256R1, mbedtls_ctr_drbg_random,
                                     &drbg);
    /* One unmeasured signature: the first one builds the comb table for the
     * generator, which a long-running broker has long done. */
    unsigned char hash[32];
    if (!w->rc)
        w->rc = mbedtls_sha256_ret((unsigned char *)input, sizeof input, hash, 0) ||
                mbedtls_ecdsa_sign_det_ext(&key.grp, &r, &s, &key.d, hash, 32, MBEDTLS_MD_SHA256,
                                           mbedtls_ctr_drbg_random, &drbg);
    double t0 = mono(), t = t0;
    while (!w->rc && t - t0 < seconds) {
        for (int i = 0; i < 16 && !w->rc; i++) {
            input[i] ^= 1; /* a different message each time, as in real use */
            w->rc = mbedtls_sha256_ret((unsigned char *)input, sizeof input, hash, 0) ||
                    mbedtls_ecdsa_sign_det_ext(&key.grp, &r, &s, &key.d, hash, 32,
                                               MBEDTLS_MD_SHA256, mbedtls_ctr_drbg_random,
                                               &drbg);
            w->count++;
        }
        t = mono();
    }
    w->secs = t - t0;
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    mbedtls_ecdsa_free(&key);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&ent);
    return NULL;
}

/* Signatures per second of n threads signing at the same time. */
static double run(int n, double *per_sig_us)
{
    struct worker *w = calloc((size_t)n, sizeof *w);
    if (!w)
        return -1;
    for (int i = 0; i < n; i++)
        pthread_create(&w[i].th, NULL, sign_loop, &w[i]);
    double rate = 0, busy = 0;
    unsigned long total = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(w[i].th, NULL);
        if (w[i].rc || w[i].secs <= 0) {
            free(w);
            return -1;
        }
        rate += (double)w[i].count / w[i].secs;
        busy += w[i].secs;
        total += w[i].count;
    }
    if (per_sig_us)
        *per_sig_us = busy / (double)total * 1e6;
    free(w);
    return rate;
}

int main(int argc, char **argv)
{
    cpu_set_t set;
    int threads = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json"))
            json = true;
        else {
            fprintf(stderr, "usage: qrlogin-sign-rate [--seconds S] [--threads N] [--json]\n");
            return 2;
        }
    }
    if (threads < 1 || seconds <= 0)
        return 2;
    double us1, usn;
    double one = run(1, &us1);
    double many = run(threads, &usn);
    if (one < 0 || many < 0) {
        fprintf(stderr, "qrlogin-sign-rate: mbedTLS signing failed\n");
        return 1;
    }
    if (json)
        printf("{\"threads\":%d,\"one_thread_per_s\":%.1f,\"one_thread_us\":%.1f,"
               "\"n_threads_per_s\":%.1f,\"n_threads_us\":%.1f,\"one_x_n_per_s\":%.1f}\n",
               threads, one, us1, many, usn, one * threads);
    else
        printf("ES256 (P-256, deterministic) signatures, mbedTLS\n"
               "  1 thread            %8.0f /s  (%.0f us each)\n"
               "  %d threads at once   %8.0f /s  (%.0f us each)\n"
               "  1 thread x %d        %8.0f /s\n",
               one, us1, threads, many, usn, threads, one * threads);
    return 0;
}
