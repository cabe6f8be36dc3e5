// A container's log in Kubernetes' format (what the kubelet, `crictl logs`
// and `kubectl logs` read): one line per line of output,
//   <RFC 3339 time, nanoseconds, UTC> <stdout|stderr> <F|P> <the line>\n
// F for a whole line, P for a part: a line longer than LOG_LINE_MAX split
// by us, or the unterminated rest at the end. Opened for appending, its
// directories made when missing, and reopened on request after the file was
// moved away (log rotation).
#ifndef WARDEN_CONTAINER_LOG_H
#define WARDEN_CONTAINER_LOG_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "write-all.h"

#define LOG_LINE_MAX (16 * 1024)

static const char *container_log_path;
static int container_log_fd = -1;
static char log_partial[2][LOG_LINE_MAX];
static size_t log_partial_len[2];

static void make_parents(const char *path) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  for (char *p = dir + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    mkdir(dir, 0755);
    *p = '/';
  }
}

/* (Re)opens the log; a log that cannot be opened is skipped, the process runs on. */
static void container_log_open(void) {
  if (!container_log_path) return;
  if (container_log_fd >= 0) close(container_log_fd);
  container_log_fd = open(container_log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (container_log_fd < 0 && errno == ENOENT) {
    make_parents(container_log_path);
    container_log_fd = open(container_log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  }
}

static void log_line(int stream, char tag, const char *a, size_t alen, const char *b, size_t blen) {
  if (container_log_fd < 0) return;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct tm tm;
  gmtime_r(&now.tv_sec, &tm);
  char head[80];
  size_t n = strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
  n += (size_t)snprintf(head + n, sizeof head - n, ".%09ldZ %s %c ", now.tv_nsec, stream ? "stderr" : "stdout", tag);
  char line[LOG_LINE_MAX * 2 + 100];
  memcpy(line, head, n);
  memcpy(line + n, a, alen);
  memcpy(line + n + alen, b, blen);
  line[n + alen + blen] = '\n';
  write_all(container_log_fd, line, n + alen + blen + 1);
}

/* A piece of a stream's output (0 stdout, 1 stderr): its whole lines go out, the rest waits for more. */
static void container_log_write(int stream, const char *data, size_t len) {
  if (container_log_fd < 0) return;
  while (len > 0) {
    const char *nl = memchr(data, '\n', len);
    size_t take = nl ? (size_t)(nl - data) : len;
    size_t room = LOG_LINE_MAX - log_partial_len[stream];
    if (take >= room) {
      // Too long for one line: what fills it goes out as a part.
      log_line(stream, 'P', log_partial[stream], log_partial_len[stream], data, room);
      log_partial_len[stream] = 0;
      data += room;
      len -= room;
      continue;
    }
    if (!nl) {
      memcpy(log_partial[stream] + log_partial_len[stream], data, take);
      log_partial_len[stream] += take;
      return;
    }
    log_line(stream, 'F', log_partial[stream], log_partial_len[stream], data, take);
    log_partial_len[stream] = 0;
    data += take + 1;
    len -= take + 1;
  }
}

/* At the end: an unterminated last line is a part. */
static void container_log_flush(int stream) {
  if (log_partial_len[stream] == 0) return;
  log_line(stream, 'P', log_partial[stream], log_partial_len[stream], "", 0);
  log_partial_len[stream] = 0;
}

#endif
