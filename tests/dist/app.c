/* Built by scripts/test-dist.sh from the shipped files only (pkg-config, CMake, the .deb): checks
 * that the library is the header's version and recognizes a receipt through the sandbox (the
 * configuration comes from the PIAOJU_* environment variables).
 * usage: app IMAGE */
#include <stdio.h>
#include <string.h>
#include <piaoju.h>

int main(int argc, char **argv) {
    pj_client *client = NULL;
    char *error = NULL;
    char *json = NULL;
    pj_status status;
    int ok;

    if (argc != 2) {
        fprintf(stderr, "usage: %s IMAGE\n", argv[0]);
        return 2;
    }
    printf("pj_version %s\n", pj_version());
    if (strcmp(pj_version(), PIAOJU_VERSION) != 0) {
        fprintf(stderr, "the header says %s, the library %s\n", PIAOJU_VERSION, pj_version());
        return 1;
    }
    status = pj_client_new(NULL, &client, &error);
    if (status != PJ_STATUS_OK) {
        fprintf(stderr, "%s: %s\n", pj_status_name(status), error);
        pj_string_free(error);
        return 1;
    }
    status = pj_recognize_shopping_receipt_file(client, argv[1], &json);
    ok = status == PJ_STATUS_OK && strstr(json, "\"total_amount\":\"12.50\"") != NULL;
    printf("%s %s\n", pj_status_name(status), json);
    pj_string_free(json);
    pj_client_free(client);
    return ok ? 0 : 1;
}
