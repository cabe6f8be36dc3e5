// warden-graft [--rro] [--idmap HOSTID:SIZE] NSFILE SRC DST [SRC DST]...
//
// Brings the host's mount tree at each SRC (with what is mounted under it,
// and its propagation: a copy of a shared mount is its peer) into the mount
// namespace pinned at NSFILE, at DST. The runtime's namespace was copied
// from the host's when the daemon started; a host directory bound into a
// container afterwards would show only what was mounted then. A bind
// mount cannot take its source from another namespace, but a detached copy
// (open_tree) made here can be attached there (move_mount) once this
// process has entered it. --rro makes the copy read-only through and
// through (mount_setattr), what is mounted under SRC included, before it
// is attached: a runtime's "ro" bind leaves submounts writable.
//
// --idmap makes the copies idmapped mounts: a file of id N on disk is seen
// as HOSTID+N through them (N < SIZE), so a container in a user namespace
// mapping 0..SIZE-1 to HOSTID.. sees it as N, and what it writes through
// them is N on disk. This is how image layers kept with the host's ids are
// shared by pods with user namespaces of their own, copying nothing. A mount
// takes its mapping from a user namespace: one is made here for the time
// it takes (a child cloned into it, given the map, then let go).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int fail(const char *what, const char *path) {
  fprintf(stderr, "warden-graft: %s %s: %s\n", what, path, strerror(errno));
  return 1;
}

static int usage(void) {
  fprintf(stderr, "usage: warden-graft [--rro] [--idmap HOSTID:SIZE] NSFILE SRC DST [SRC DST]...\n");
  return 2;
}

static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, text, strlen(text));
  int saved = errno;
  close(fd);
  errno = saved;
  return n == (ssize_t)strlen(text) ? 0 : -1;
}

// A user namespace mapping 0..size-1 to host..host+size-1, as an open file; -1 on failure.
static int user_namespace(unsigned long host, unsigned long size) {
  int sync[2];
  if (pipe2(sync, O_CLOEXEC) < 0) return -1;
  // A raw clone with no stack behaves as fork, the child born in a new user namespace.
  pid_t child = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
  if (child < 0) return -1;
  if (child == 0) {
    char c;
    close(sync[1]);
    // Lives until the parent has what it needs (its end closed: read returns 0).
    while (read(sync[0], &c, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
  }
  close(sync[0]);
  char path[64], map[64];
  int fd = -1;
  snprintf(map, sizeof map, "0 %lu %lu\n", host, size);
  snprintf(path, sizeof path, "/proc/%d/uid_map", (int)child);
  if (write_file(path, map) == 0) {
    snprintf(path, sizeof path, "/proc/%d/gid_map", (int)child);
    if (write_file(path, map) == 0) {
      snprintf(path, sizeof path, "/proc/%d/ns/user", (int)child);
      fd = open(path, O_RDONLY | O_CLOEXEC);
    }
  }
  int saved = errno;
  close(sync[1]);
  while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
  }
  errno = saved;
  return fd;
}

int main(int argc, char **argv) {
  int i = 1, rro = 0, userns = -1;
  for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
    if (strcmp(argv[i], "--rro") == 0) {
      rro = 1;
    } else if (strcmp(argv[i], "--idmap") == 0 && i + 1 < argc) {
      char *end;
      unsigned long host = strtoul(argv[++i], &end, 10), size = 0;
      if (*end == ':') size = strtoul(end + 1, &end, 10);
      if (*end != '\0' || host == 0 || size == 0) return usage();
      userns = user_namespace(host, size);
      if (userns < 0) return fail("cannot make a user namespace for", argv[i]);
    } else {
      return usage();
    }
  }
  if (argc - i < 3 || (argc - i - 1) % 2 != 0) return usage();
  const char *nsfile = argv[i++];
  int first = i, count = (argc - i) / 2;
  int trees[count];
  // Every copy is made on the host before its namespace is entered.
  for (int k = 0; k < count; k++) {
    const char *src = argv[first + 2 * k];
    trees[k] = open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (trees[k] < 0) return fail("cannot copy the mounts at", src);
    struct mount_attr attr = {.attr_set = (rro ? MOUNT_ATTR_RDONLY : 0) | (userns >= 0 ? MOUNT_ATTR_IDMAP : 0)};
    if (userns >= 0) attr.userns_fd = (unsigned long)userns;
    if (attr.attr_set && mount_setattr(trees[k], "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
      return fail(userns >= 0 ? "cannot map the ids of the copy of" : "cannot make read-only the copy of", src);
    }
  }
  int ns = open(nsfile, O_RDONLY | O_CLOEXEC);
  if (ns < 0) return fail("cannot open", nsfile);
  if (setns(ns, CLONE_NEWNS) < 0) return fail("cannot enter the mount namespace", nsfile);
  for (int k = 0; k < count; k++) {
    const char *dst = argv[first + 2 * k + 1];
    if (mkdir(dst, 0700) < 0 && errno != EEXIST) return fail("cannot make", dst);
    if (move_mount(trees[k], "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) < 0) return fail("cannot attach the copy at", dst);
  }
  return 0;
}
