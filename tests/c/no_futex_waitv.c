/* Runs a command as on a kernel without futex_waitv (Linux < 5.16): a seccomp filter, inherited by
 * every child, makes that one system call fail with ENOSYS. scripts/fallback.mjs runs the C tests
 * under it, so libipc's own probe (zig/platform/linux_futex.zig) chooses the fallback.
 *   no_futex_waitv <command> [args...] */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

#define SYS_FUTEX_WAITV 449 /* the same number on every Linux architecture */

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: no_futex_waitv <command> [args...]\n");
    return 2;
  }
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_FUTEX_WAITV, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog program = {.len = sizeof filter / sizeof filter[0], .filter = filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
    perror("no_futex_waitv: seccomp");
    return 2;
  }
  execvp(argv[1], argv + 1);
  perror("no_futex_waitv: exec");
  return 127;
}
