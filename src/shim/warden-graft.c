// warden-graft [--rro] SRC NSFILE DST
//
// Brings the host's mount tree at SRC (with what is mounted under it, and
// its propagation: a copy of a shared mount is its peer) into the mount
// namespace pinned at NSFILE, at DST. The runtime's namespace was copied
// from the host's when the daemon started; a host directory bound into a
// container afterwards would show only what was mounted then. A bind
// mount cannot take its source from another namespace, but a detached copy
// (open_tree) made here can be attached there (move_mount) once this
// process has entered it. --rro makes the copy read-only through and
// through (mount_setattr), what is mounted under SRC included, before it
// is attached: a runtime's "ro" bind leaves submounts writable.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(const char *what, const char *path) {
  fprintf(stderr, "warden-graft: %s %s: %s\n", what, path, strerror(errno));
  return 1;
}

int main(int argc, char **argv) {
  int rro = argc == 5 && strcmp(argv[1], "--rro") == 0;
  if (argc != 4 + rro) {
    fprintf(stderr, "usage: warden-graft [--rro] SRC NSFILE DST\n");
    return 2;
  }
  const char *src = argv[1 + rro], *nsfile = argv[2 + rro], *dst = argv[3 + rro];
  int tree = open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (tree < 0) return fail("cannot copy the mounts at", src);
  if (rro) {
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
    if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) return fail("cannot make read-only the copy of", src);
  }
  int ns = open(nsfile, O_RDONLY | O_CLOEXEC);
  if (ns < 0) return fail("cannot open", nsfile);
  if (setns(ns, CLONE_NEWNS) < 0) return fail("cannot enter the mount namespace", nsfile);
  if (mkdir(dst, 0700) < 0 && errno != EEXIST) return fail("cannot make", dst);
  if (move_mount(tree, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) < 0) return fail("cannot attach the copy at", dst);
  return 0;
}
