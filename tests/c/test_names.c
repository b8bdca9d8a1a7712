/* Proves name validation and generation from C: accepted and refused names with their codes, and
 * generated names that are unique, short enough and valid. */
#include "ipc.h"
#include "check.h"

#include <string.h>

int main(void) {
  CHECK_RC(ipc_name_validate("seg"), IPC_OK);
  CHECK_RC(ipc_name_validate("/seg"), IPC_OK);
  CHECK_RC(ipc_name_validate("/A_b-c.9"), IPC_OK);
  CHECK_RC(ipc_name_validate("/abcdefghijklmnopqrstuvwxyz01234"), IPC_ENAMETOOLONG);
  CHECK_RC(ipc_name_validate("/abcdefghijklmnopqrstuvwxyz012"), IPC_OK);
  CHECK_RC(ipc_name_validate(""), IPC_EINVAL);
  CHECK_RC(ipc_name_validate("/"), IPC_EINVAL);
  CHECK_RC(ipc_name_validate("a/b"), IPC_EINVAL);
  CHECK_RC(ipc_name_validate("caf\xc3\xa9"), IPC_EINVAL);
  CHECK_RC(ipc_name_validate(".."), IPC_EINVAL);
  CHECK_RC(ipc_name_validate("ipc.fake"), IPC_EINVAL);
  CHECK_RC(ipc_name_validate(NULL), IPC_EINVAL);

  char a[IPC_NAME_MAX + 1], b[IPC_NAME_MAX + 1];
  CHECK_RC(ipc_name_generate(a, sizeof a), IPC_OK);
  CHECK_RC(ipc_name_generate(b, sizeof b), IPC_OK);
  CHECK(strcmp(a, b) != 0);
  CHECK(strlen(a) <= IPC_NAME_MAX);
  CHECK(strncmp(a, "/ipc.", 5) == 0);
  CHECK_RC(ipc_name_validate(a), IPC_OK);
  CHECK_RC(ipc_name_generate(a, IPC_NAME_MAX), IPC_ERANGE);
  CHECK_RC(ipc_name_generate(NULL, 64), IPC_EINVAL);
  return 0;
}
