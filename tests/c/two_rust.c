/* Built by tests/c/run.sh with the installed libpiaoju.a and a second Rust static library
 * (other_rust.rs), in either order: links, and both libraries work, each with its own Rust
 * standard library (piaoju's is local to libpiaoju.a). usage: two_rust IMAGE, the receipt. */
#include <stdio.h>
#include <string.h>
#include <piaoju.h>

int other_rust_caught(void);

int main(int argc, char **argv) {
    pj_client *client = NULL;
    char *json = NULL;
    int other, ok;
    if (argc != 2) return 2;
    other = other_rust_caught();
    printf("other Rust library: %d\n", other);
    if (pj_client_new(NULL, &client, NULL) != PJ_STATUS_OK) return 1;
    ok = pj_recognize_shopping_receipt_file(client, argv[1], &json) == PJ_STATUS_OK &&
         strstr(json, "\"total_amount\":\"12.50\"") != NULL;
    printf("piaoju: %s\n", json ? json : "(null)");
    pj_string_free(json);
    pj_client_free(client);
    return other == 42 && ok ? 0 : 1;
}
