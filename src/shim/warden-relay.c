// warden-relay NETNS PORT
//
// A TCP connection to 127.0.0.1:PORT inside the network namespace pinned at
// NETNS, relayed over this process's stdin and stdout: how the daemon (which
// cannot enter a namespace itself) reaches a port a container listens on
// only on its own loopback. The end of stdin half-closes the connection; the
// connection's end closes stdout, and the relay exits once both ways are
// done. A connection refused is reported on stderr with exit status 1.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

// All of `data` to `fd`, again after a signal; -1 when the other end is gone.
static int put_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

static int fail(const char *what) {
  fprintf(stderr, "warden-relay: %s: %s\n", what, strerror(errno));
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: warden-relay NETNS PORT\n");
    return 2;
  }
  char *end = NULL;
  long port = strtol(argv[2], &end, 10);
  if (*argv[2] == '\0' || *end != '\0' || port < 1 || port > 65535) {
    fprintf(stderr, "warden-relay: bad port %s\n", argv[2]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  int ns = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (ns < 0) return fail("cannot open the network namespace");
  if (setns(ns, CLONE_NEWNET) < 0) return fail("cannot enter the network namespace");
  int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return fail("socket");
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0) return fail("connect");

  char buf[65536];
  int in_open = 1, out_open = 1;
  while (out_open) {
    struct pollfd fds[2] = {{.fd = in_open ? 0 : -1, .events = POLLIN}, {.fd = sock, .events = POLLIN}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return fail("poll");
    }
    if (in_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = read(0, buf, sizeof buf);
      if (n > 0) {
        if (put_all(sock, buf, (size_t)n) < 0) in_open = 0;
      } else if (n == 0 || errno != EINTR) {
        in_open = 0;
        shutdown(sock, SHUT_WR);
      }
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(sock, buf, sizeof buf);
      if (n > 0) {
        if (put_all(1, buf, (size_t)n) < 0) out_open = 0;
      } else if (n == 0 || errno != EINTR) {
        out_open = 0;
      }
    }
  }
  close(1);
  close(sock);
  return 0;
}
