// The header must compile as C++ (-Wall -Wextra -Werror) and link.
#include "piaoju.h"

#include <cstring>
#include <iostream>

int main() {
    pj_client *client = nullptr;
    char *err = nullptr;
    pj_status st = pj_client_new("{}", &client, &err);
    bool ok = st == PJ_STATUS_OK && client != nullptr && err == nullptr;
    char *json = nullptr;
    st = pj_recognize_shopping_receipt_file(client, "/nonexistent.png", &json);
    ok = ok && (st == PJ_STATUS_MISSING_CREDENTIALS || st == PJ_STATUS_IMAGE_UNREADABLE);
    pj_string_free(json);
    pj_client_free(client);
    ok = ok && std::strcmp(pj_version(), PIAOJU_VERSION) == 0;
    ok = ok && std::strcmp(pj_status_name(PJ_STATUS_TIMEOUT), "timeout") == 0;
    std::cout << "c++: " << (ok ? 1 : 0) << " passed, " << (ok ? 0 : 1) << " failed" << std::endl;
    return ok ? 0 : 1;
}
