/* Proves the version and result-code functions: versions agree with the header, every code has a
 * distinct name and text, and unknown codes are reported as such. */
#include "ipc.h"
#include "check.h"

#include <string.h>

int main(void) {
  CHECK(ipc_version() == IPC_VERSION);
  CHECK(ipc_abi_version() == IPC_ABI_VERSION);
  char want[32];
  snprintf(want, sizeof want, "%d.%d.%d", IPC_VERSION_MAJOR, IPC_VERSION_MINOR, IPC_VERSION_PATCH);
  CHECK(strcmp(ipc_version_string(), want) == 0);

  CHECK(strcmp(ipc_errname(IPC_OK), "OK") == 0);
  CHECK(strcmp(ipc_errname(IPC_OWNER_DIED), "OWNER_DIED") == 0);
  CHECK(strcmp(ipc_errname(IPC_EKIND), "EKIND") == 0);
  for (int32_t a = IPC_ENOHELPER; a <= IPC_OWNER_DIED; a++) {
    CHECK(strcmp(ipc_errname(a), "EUNKNOWN") != 0);
    CHECK(strcmp(ipc_strerror(a), "unknown result code") != 0);
    for (int32_t b = a + 1; b <= IPC_OWNER_DIED; b++) {
      CHECK(strcmp(ipc_errname(a), ipc_errname(b)) != 0);
      CHECK(strcmp(ipc_strerror(a), ipc_strerror(b)) != 0);
    }
  }
  CHECK(strcmp(ipc_errname(IPC_EOF), "EOF") == 0);
  CHECK(strcmp(ipc_errname(IPC_EOWNER), "EOWNER") == 0);
  CHECK(strcmp(ipc_errname(IPC_EINTR), "EINTR") == 0);
  CHECK(strcmp(ipc_errname(IPC_ENOHELPER), "ENOHELPER") == 0);
  CHECK(strcmp(ipc_errname(IPC_ENOHELPER - 1), "EUNKNOWN") == 0);
  CHECK(strcmp(ipc_strerror(1000), "unknown result code") == 0);
  return 0;
}
