/* A stand-in libpiaoju.so for bindings/test.sh: forwards every function to the real library
 * (the path in PIAOJU_REAL_LIBRARY) and counts the strings the library hands to its caller
 * (out_json, out_error_json, pj_call's result) and the strings the caller gives back to
 * pj_string_free, and the clients freed while a call was running. After every change it writes
 * "returned N freed M early_client_frees K" to the file PIAOJU_COUNT_FILE, so the count survives
 * however the host exits. A wrapper that leaks a result, or frees it with its own allocator, ends
 * with freed < returned; one that defers pj_client_free until its calls are done (a .NET
 * SafeHandle) has no early client frees.
 *
 * gcc -shared -fPIC -I include bindings/count_strings.c -o DIR/libpiaoju.so -ldl -lpthread */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "piaoju.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void *real;
static unsigned long returned, freed, early_client_frees;
static long in_flight;

static void *sym(const char *name) {
    void *f;
    pthread_mutex_lock(&lock);
    if (real == NULL) {
        const char *path = getenv("PIAOJU_REAL_LIBRARY");
        real = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
    }
    pthread_mutex_unlock(&lock);
    f = real ? dlsym(real, name) : NULL;
    if (f == NULL) {
        fprintf(stderr, "count_strings: cannot load %s from PIAOJU_REAL_LIBRARY\n", name);
        abort();
    }
    return f;
}

static void count(unsigned long *counter, const void *s) {
    const char *file = getenv("PIAOJU_COUNT_FILE");
    FILE *f;
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&lock);
    ++*counter;
    if (file != NULL && (f = fopen(file, "w")) != NULL) {
        fprintf(f, "returned %lu freed %lu early_client_frees %lu\n", returned, freed, early_client_frees);
        fclose(f);
    }
    pthread_mutex_unlock(&lock);
}

static void calls(long delta) {
    pthread_mutex_lock(&lock);
    in_flight += delta;
    pthread_mutex_unlock(&lock);
}

#define FORWARD(name) static __typeof__(name) *real_##name; if (!real_##name) real_##name = (__typeof__(name) *)sym(#name)

pj_status pj_client_new(const char *config_json, pj_client **out_client, char **out_error_json) {
    pj_status st;
    FORWARD(pj_client_new);
    st = real_pj_client_new(config_json, out_client, out_error_json);
    if (out_error_json) count(&returned, *out_error_json);
    return st;
}

void pj_client_free(pj_client *client) {
    int early;
    FORWARD(pj_client_free);
    pthread_mutex_lock(&lock);
    early = client != NULL && in_flight > 0;
    pthread_mutex_unlock(&lock);
    if (early) count(&early_client_frees, client);
    real_pj_client_free(client);
}

#define RECOGNIZE_BYTES(name)                                                                      \
    pj_status name(const pj_client *client, const uint8_t *image, size_t image_len, char **out_json) { \
        pj_status st;                                                                              \
        FORWARD(name);                                                                             \
        calls(1);                                                                                  \
        st = real_##name(client, image, image_len, out_json);                                      \
        calls(-1);                                                                                 \
        if (out_json) count(&returned, *out_json);                                                 \
        return st;                                                                                 \
    }
#define RECOGNIZE_FILE(name)                                                                       \
    pj_status name(const pj_client *client, const char *path, char **out_json) {                   \
        pj_status st;                                                                              \
        FORWARD(name);                                                                             \
        calls(1);                                                                                  \
        st = real_##name(client, path, out_json);                                                  \
        calls(-1);                                                                                 \
        if (out_json) count(&returned, *out_json);                                                 \
        return st;                                                                                 \
    }
RECOGNIZE_BYTES(pj_recognize_shopping_receipt)
RECOGNIZE_FILE(pj_recognize_shopping_receipt_file)
RECOGNIZE_BYTES(pj_recognize_used_car_invoice)
RECOGNIZE_FILE(pj_recognize_used_car_invoice_file)

char *pj_call(const char *request_json) {
    char *s;
    FORWARD(pj_call);
    s = real_pj_call(request_json);
    count(&returned, s);
    return s;
}

void pj_string_free(char *s) {
    FORWARD(pj_string_free);
    count(&freed, s);
    real_pj_string_free(s);
}

const char *pj_version(void) {
    FORWARD(pj_version);
    return real_pj_version();
}

const char *pj_status_name(pj_status status) {
    FORWARD(pj_status_name);
    return real_pj_status_name(status);
}
