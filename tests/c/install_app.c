/* The program scripts/c_install.mjs builds against an installed libipc (`zig build -p PREFIX`),
 * through pkg-config, once linked with libipc.so and once with libipc.a:
 *   install_app            a mutex locked and unlocked, and a tracked named segment (the tracker's
 *                          helper found where the install put it); prints "ok <version>"
 *   install_app nohelper   the helper has been moved away: a tracked create fails IPC_ENOHELPER */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ipc.h>

#include "check.h"

int main(int argc, char **argv) {
  int expect_missing = argc > 1 && strcmp(argv[1], "nohelper") == 0;
  char name[64];
  snprintf(name, sizeof name, "/ipctest-install-%ld", (long)getpid());

  ipc_segment_t *seg = NULL;
  ipc_mutex_t *mutex = NULL;
  CHECK_RC(ipc_mutex_create(NULL, 0, 0, &seg, &mutex), IPC_OK);
  CHECK_RC(ipc_mutex_lock(mutex), IPC_OK);
  CHECK_RC(ipc_mutex_unlock(mutex), IPC_OK);
  CHECK_RC(ipc_segment_close(seg), IPC_OK);

  ipc_segment_t *tracked = NULL;
  if (expect_missing) {
    CHECK_RC(ipc_segment_create(name, 4096, 0, IPC_SEGMENT_TRACK, &tracked), IPC_ENOHELPER);
    printf("nohelper: %s\n", ipc_strerror(IPC_ENOHELPER));
    return 0;
  }
  CHECK_RC(ipc_segment_create(name, 4096, 0, IPC_SEGMENT_TRACK, &tracked), IPC_OK);
  CHECK_RC(ipc_segment_close(tracked), IPC_OK);
  CHECK_RC(ipc_segment_unlink(name), IPC_OK);
  CHECK_RC(ipc_tracker_stop(), IPC_OK);
  printf("ok %s\n", ipc_version_string());
  return 0;
}
