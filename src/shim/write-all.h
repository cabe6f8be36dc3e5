// Writes all of `data` to `fd`, again after a signal; gives up on any other
// error (the reader is gone: there is nobody left to tell).
#ifndef WARDEN_WRITE_ALL_H
#define WARDEN_WRITE_ALL_H
#include <errno.h>
#include <stddef.h>
#include <unistd.h>

static void write_all(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += (size_t)n;
    len -= (size_t)n;
  }
}
#endif
