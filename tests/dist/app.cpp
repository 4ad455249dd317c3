// Built by scripts/test-dist.sh through CMake: a C++ program using the C header.
#include <cstring>
#include <iostream>
#include <piaoju.h>

int main() {
    std::cout << "pj_version " << pj_version() << "\n";
    bool ok = std::strcmp(pj_version(), PIAOJU_VERSION) == 0 &&
              std::strcmp(pj_status_name(PJ_STATUS_TIMEOUT), "timeout") == 0;
    return ok ? 0 : 1;
}
