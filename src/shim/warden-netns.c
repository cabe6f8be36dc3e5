// warden-netns: makes a container's user and network namespaces, pins them
// and wires them, in one program (where a shell, unshare, two mounts and
// the conversation between them took seven):
//
//   warden-netns USER_PIN NET_PIN HOST_ID COUNT PING_MAX HOST_BATCH INSIDE_BATCH
//
// A child unshares a user and a network namespace; we map COUNT ids from
// HOST_ID to 0 in it, bind its namespaces onto the two pin files, run
// `ip -batch` with HOST_BATCH here (the veth pair, its peer moved in through
// NET_PIN), then the child, root of its namespace, lets every group up to
// PING_MAX open ICMP echo sockets and runs `ip -batch` with INSIDE_BATCH
// there. The tools' stderr is ours; the exit status is the first failure's.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void fail(const char *what) {
  fprintf(stderr, "warden-netns: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail(path);
  if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) fail(path);
  close(fd);
}

// Root of the new user namespace is not root to exec (its uid is unmapped
// outside): its capabilities there survive exec only as ambient ones (as
// unshare --keep-caps does).
static void keep_caps(void) {
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  if (syscall(SYS_capget, &header, data) < 0) fail("capget");
  data[0].inheritable = data[0].permitted;
  data[1].inheritable = data[1].permitted;
  if (syscall(SYS_capset, &header, data) < 0) fail("capset");
  for (int cap = 0; cap < 64; cap++) {
    int held = cap < 32 ? (data[0].permitted >> cap) & 1 : (data[1].permitted >> (cap - 32)) & 1;
    if (held && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0 && errno != EINVAL) fail("ambient capabilities");
  }
}

// Runs `ip -batch -` on `batch` (small: it fits in the pipe before ip reads it).
static void exec_ip(const char *batch) {
  int p[2];
  if (pipe(p) < 0) fail("pipe");
  if (write(p[1], batch, strlen(batch)) != (ssize_t)strlen(batch)) fail("batch");
  close(p[1]);
  if (dup2(p[0], 0) < 0) fail("dup2");
  close(p[0]);
  execlp("ip", "ip", "-batch", "-", (char *)NULL);
  fail("exec ip");
}

static int wait_for(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) fail("waitpid");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: warden-netns USER_PIN NET_PIN HOST_ID COUNT PING_MAX HOST_BATCH INSIDE_BATCH\n");
    return 2;
  }
  const char *user_pin = argv[1], *net_pin = argv[2], *host_id = argv[3], *count = argv[4], *ping_max = argv[5];
  const char *host_batch = argv[6], *inside_batch = argv[7];
  int up[2], go[2];
  if (pipe2(up, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0) fail("pipe");
  pid_t child = fork();
  if (child < 0) fail("fork");
  if (child == 0) {
    char byte = 'u';
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0) fail("unshare");
    if (write(up[1], &byte, 1) != 1) fail("write");
    if (read(go[0], &byte, 1) != 1 || byte != 'g') _exit(1);  // the parent failed and said why
    char range[64];
    snprintf(range, sizeof range, "0 %s", ping_max);
    write_file("/proc/sys/net/ipv4/ping_group_range", range);
    keep_caps();
    exec_ip(inside_batch);
  }
  close(up[1]);
  close(go[0]);
  char byte;
  if (read(up[0], &byte, 1) != 1) {
    fprintf(stderr, "warden-netns: the namespace child failed\n");
    wait_for(child);
    return 1;
  }
  char path[64], map[128];
  snprintf(map, sizeof map, "0 %s %s\n", host_id, count);
  snprintf(path, sizeof path, "/proc/%d/uid_map", child);
  write_file(path, map);
  snprintf(path, sizeof path, "/proc/%d/gid_map", child);
  write_file(path, map);
  snprintf(path, sizeof path, "/proc/%d/ns/user", child);
  if (mount(path, user_pin, NULL, MS_BIND, NULL) < 0) fail("pinning the user namespace");
  snprintf(path, sizeof path, "/proc/%d/ns/net", child);
  if (mount(path, net_pin, NULL, MS_BIND, NULL) < 0) fail("pinning the network namespace");
  pid_t host = fork();
  if (host < 0) fail("fork");
  if (host == 0) exec_ip(host_batch);
  int status = wait_for(host);
  if (status != 0) {
    kill(child, SIGKILL);
    wait_for(child);
    return status;
  }
  if (write(go[1], "g", 1) != 1) fail("write");
  return wait_for(child);
}
