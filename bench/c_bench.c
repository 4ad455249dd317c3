/* Benchmark helper for bench/compare.py: recognize an image N times through libpiaoju and print
 * one JSON line of client CPU and wall time per call and peak RSS; or, with "threads", run
 * THREADS threads making CALLS calls each and print the wall time.
 *   c_bench calls CONFIG_JSON IMAGE_FILE N
 *   c_bench threads CONFIG_JSON IMAGE_FILE THREADS CALLS */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "piaoju.h"

static unsigned char *image;
static size_t image_len;
static pj_client *client;
static int calls_per_thread;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec +
           (double)u.ru_stime.tv_usec / 1e6;
}

static int call(void) {
    char *json = NULL;
    pj_status st = pj_recognize_shopping_receipt(client, image, image_len, &json);
    pj_string_free(json);
    return st == PJ_STATUS_OK;
}

static void *worker(void *arg) {
    int i, ok = 0;
    (void)arg;
    for (i = 0; i < calls_per_thread; i++) ok += call();
    return (void *)(long)ok;
}

int main(int argc, char **argv) {
    FILE *f;
    char *err = NULL;
    if (argc < 5) return 2;
    f = fopen(argv[3], "rb");
    if (!f) return 2;
    fseek(f, 0, SEEK_END);
    image_len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    image = malloc(image_len);
    if (!image || fread(image, 1, image_len, f) != image_len) return 2;
    fclose(f);
    if (pj_client_new(argv[2], &client, &err) != PJ_STATUS_OK) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (strcmp(argv[1], "calls") == 0) {
        int n = atoi(argv[4]), i, ok = 0;
        double c0, w0;
        struct rusage u;
        call(); /* warm up: connection, tables */
        c0 = cpu();
        w0 = now();
        for (i = 0; i < n; i++) ok += call();
        getrusage(RUSAGE_SELF, &u);
        printf("{\"ok\": %d, \"cpu_ms\": %.3f, \"wall_ms\": %.3f, \"maxrss_kb\": %ld}\n", ok,
               (cpu() - c0) * 1000 / n, (now() - w0) * 1000 / n, u.ru_maxrss);
    } else {
        int threads = atoi(argv[4]), i;
        long ok = 0;
        pthread_t t[64];
        double w0;
        if (argc < 6 || threads < 1 || threads > 64) return 2;
        calls_per_thread = atoi(argv[5]);
        w0 = now();
        for (i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, NULL);
        for (i = 0; i < threads; i++) {
            void *r;
            pthread_join(t[i], &r);
            ok += (long)r;
        }
        printf("{\"ok\": %ld, \"wall_s\": %.3f}\n", ok, now() - w0);
    }
    pj_client_free(client);
    free(image);
    return 0;
}
