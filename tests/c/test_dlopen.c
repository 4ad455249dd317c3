/* Load libpiaoju at run time with dlopen, as plugin hosts do, and make one call of each kind. */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "piaoju.h"

typedef char *(*call_fn)(const char *);
typedef void (*free_fn)(char *);
typedef const char *(*version_fn)(void);
typedef pj_status (*new_fn)(const char *, pj_client **, char **);
typedef pj_status (*file_fn)(const pj_client *, const char *, char **);
typedef void (*client_free_fn)(pj_client *);

int main(int argc, char **argv) {
    void *lib;
    call_fn call;
    free_fn string_free;
    version_fn version;
    new_fn client_new;
    file_fn receipt_file;
    client_free_fn client_free;
    pj_client *client = NULL;
    char *out, *json = NULL;
    char config[1024], request[2048];
    int failed = 0, passed = 0;
    if (argc != 4) {
        fprintf(stderr, "usage: test_dlopen LIBRARY SANDBOX_URL RECEIPT_IMAGE\n");
        return 2;
    }
    lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    /* POSIX guarantees that a data pointer from dlsym converts to a function pointer. */
    *(void **)(&call) = dlsym(lib, "pj_call");
    *(void **)(&string_free) = dlsym(lib, "pj_string_free");
    *(void **)(&version) = dlsym(lib, "pj_version");
    *(void **)(&client_new) = dlsym(lib, "pj_client_new");
    *(void **)(&receipt_file) = dlsym(lib, "pj_recognize_shopping_receipt_file");
    *(void **)(&client_free) = dlsym(lib, "pj_client_free");
    if (!call || !string_free || !version || !client_new || !receipt_file || !client_free) {
        fprintf(stderr, "dlsym: a symbol is missing\n");
        return 1;
    }
    if (strcmp(version(), PIAOJU_VERSION) == 0) passed++; else { failed++; fprintf(stderr, "FAIL version\n"); }

    snprintf(config, sizeof config, "{\"juhe\": {\"key\": \"sandbox-juhe-key\", \"base_url\": \"%s\"}}", argv[2]);
    snprintf(request, sizeof request, "{\"config\": %s, \"operation\": \"shopping_receipt\", \"image_path\": \"%s\"}",
             config, argv[3]);
    out = call(request);
    if (out && strstr(out, "\"ok\":true") && strstr(out, "\"total_amount\":\"12.50\"")) passed++;
    else { failed++; fprintf(stderr, "FAIL pj_call: %s\n", out ? out : "(null)"); }
    string_free(out);

    if (client_new(config, &client, NULL) == PJ_STATUS_OK && receipt_file(client, argv[3], &json) == PJ_STATUS_OK
        && strstr(json, "\"shop_name\":\"多又好超市\"")) passed++;
    else { failed++; fprintf(stderr, "FAIL client call: %s\n", json ? json : "(null)"); }
    string_free(json);
    client_free(client);
    dlclose(lib);
    printf("dlopen: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
