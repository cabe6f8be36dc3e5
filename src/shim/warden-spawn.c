// warden-spawn: runs wardend's short host commands (ip, mount, nsenter, crun,
// btrfs ...) for it. Forking the daemon (a large Node.js process) costs it a
// millisecond or more of its event loop per command, and a create runs
// several; this small process forks in a fraction of that. It serves
// requests on stdin and answers on stdout until stdin ends.
//
// Frames, little-endian, each [u32 length of the rest][rest]:
//   request  'R' u32 id, then NUL-terminated strings: cwd ("" for ours),
//            "1" or "0" (input follows), argc, argv..., envc ("-" for ours),
//            env...; the rest of the frame is the input
//   request  'K' u32 id, u32 signal: signal that command
//   answer   u32 id, u8 kind, i32 status, u32 n, stdout[n], u32 m, stderr[m]
//            kind 'X': it ran, status is its wait status; kind 'E': it could
//            not be started, stderr says why
// Output beyond MAX_OUTPUT per stream is read and dropped, as the daemon's own runner does.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_OUTPUT (1024 * 1024)
#define MAX_FRAME (64 * 1024 * 1024)

struct buf {
  char *data;
  size_t len, cap;
};

struct child;

// Tags for epoll: which stream of which child an event is for.
struct tag {
  struct child *c;
  int which;  // 0 in, 1 out, 2 err
};

struct child {
  struct tag tags[3];
  int done;
  uint32_t id;
  pid_t pid;
  int out, err, in;
  struct buf stdout_buf, stderr_buf;
  char *input;
  size_t input_len, input_off;
  int reaped, status;
  struct child *next;
};

static struct child *children;
/* Answered, freed once the events of the batch that finished them are handled. */
static struct child *dead;
static int epfd, sigfd;
extern char **environ;

static void die(const char *what) {
  fprintf(stderr, "warden-spawn: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void append(struct buf *b, const void *data, size_t len, size_t limit) {
  if (b->len >= limit) return;
  if (len > limit - b->len) len = limit - b->len;
  if (b->len + len > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + len) cap *= 2;
    char *more = realloc(b->data, cap);
    if (!more) die("realloc");
    b->data = more;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, len);
  b->len += len;
}

static void write_all(const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    ssize_t n = write(STDOUT_FILENO, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) exit(0);  // the daemon is gone
    p += n;
    len -= (size_t)n;
  }
}

static void put_u32(struct buf *b, uint32_t v) {
  unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
  append(b, x, 4, SIZE_MAX);
}

static uint32_t get_u32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void answer(uint32_t id, char kind, int status, const struct buf *out, const char *err, size_t err_len) {
  struct buf frame = {0};
  put_u32(&frame, 0);
  put_u32(&frame, id);
  append(&frame, &kind, 1, SIZE_MAX);
  put_u32(&frame, (uint32_t)status);
  put_u32(&frame, out ? (uint32_t)out->len : 0);
  if (out && out->len) append(&frame, out->data, out->len, SIZE_MAX);
  put_u32(&frame, (uint32_t)err_len);
  if (err_len) append(&frame, err, err_len, SIZE_MAX);
  uint32_t rest = (uint32_t)(frame.len - 4);
  unsigned char x[4] = {(unsigned char)rest, (unsigned char)(rest >> 8), (unsigned char)(rest >> 16), (unsigned char)(rest >> 24)};
  memcpy(frame.data, x, 4);
  write_all(frame.data, frame.len);
  free(frame.data);
}

static void watch(int fd, uint32_t events, void *ptr) {
  struct epoll_event ev = {.events = events, .data.ptr = ptr};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
}

static void close_stream(struct child *c, int which) {
  int *fd = which == 0 ? &c->in : which == 1 ? &c->out : &c->err;
  if (*fd < 0) return;
  epoll_ctl(epfd, EPOLL_CTL_DEL, *fd, NULL);
  close(*fd);
  *fd = -1;
}

static void finish_if_done(struct child *c) {
  if (!c->reaped || c->out >= 0 || c->err >= 0) return;
  close_stream(c, 0);
  answer(c->id, 'X', c->status, &c->stdout_buf, c->stderr_buf.data, c->stderr_buf.len);
  for (struct child **p = &children; *p; p = &(*p)->next) {
    if (*p == c) {
      *p = c->next;
      break;
    }
  }
  c->done = 1;
  c->next = dead;
  dead = c;
}

static void free_dead(void) {
  while (dead) {
    struct child *c = dead;
    dead = c->next;
    free(c->stdout_buf.data);
    free(c->stderr_buf.data);
    free(c->input);
    free(c);
  }
}

static void refuse(uint32_t id, const char *why) {
  answer(id, 'E', 0, NULL, why, strlen(why));
}

static void start(uint32_t id, unsigned char *p, size_t len) {
  char *strings[8192 + 8];
  size_t n = 0, off = 0;
  // cwd, has-input, argc, argv..., envc, env...: read as many strings as they say.
  while (off < len && n < 3) {
    strings[n++] = (char *)p + off;
    off += strnlen((char *)p + off, len - off) + 1;
  }
  if (n < 3) {
    refuse(id, "bad request");
    return;
  }
  const char *cwd = strings[0];
  int has_input = strings[1][0] == '1';
  long argc = strtol(strings[2], NULL, 10);
  if (argc < 1 || argc > 4096) {
    refuse(id, "bad argc");
    return;
  }
  char **argv = calloc((size_t)argc + 1, sizeof *argv);
  for (long i = 0; i < argc; i++) {
    if (off >= len) {
      free(argv);
      refuse(id, "bad argv");
      return;
    }
    argv[i] = (char *)p + off;
    off += strnlen((char *)p + off, len - off) + 1;
  }
  if (off >= len) {
    free(argv);
    refuse(id, "bad envc");
    return;
  }
  char *envc_s = (char *)p + off;
  off += strnlen(envc_s, len - off) + 1;
  char **envp = environ;
  if (strcmp(envc_s, "-")) {
    long envc = strtol(envc_s, NULL, 10);
    if (envc < 0 || envc > 4096) {
      free(argv);
      refuse(id, "bad envc");
      return;
    }
    envp = calloc((size_t)envc + 1, sizeof *envp);
    for (long i = 0; i < envc; i++) {
      if (off >= len) {
        free(argv);
        free(envp);
        refuse(id, "bad env");
        return;
      }
      envp[i] = (char *)p + off;
      off += strnlen((char *)p + off, len - off) + 1;
    }
  }
  if (off > len) off = len;
  int in_pipe[2] = {-1, -1}, out_pipe[2], err_pipe[2], status_pipe[2];
  if ((has_input && pipe2(in_pipe, O_CLOEXEC) < 0) || pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0 ||
      pipe2(status_pipe, O_CLOEXEC) < 0)
    die("pipe2");
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_UNBLOCK, &all, NULL);
    signal(SIGPIPE, SIG_DFL);
    int in = has_input ? in_pipe[0] : open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (dup2(in, 0) < 0 || dup2(out_pipe[1], 1) < 0 || dup2(err_pipe[1], 2) < 0) _exit(127);
    if (cwd[0] && chdir(cwd) < 0) {
      int e = errno;
      write(status_pipe[1], &e, sizeof e);
      _exit(127);
    }
    execvpe(argv[0], argv, envp);
    int e = errno;
    write(status_pipe[1], &e, sizeof e);
    _exit(127);
  }
  if (envp != environ) free(envp);
  close(out_pipe[1]);
  close(err_pipe[1]);
  close(status_pipe[1]);
  if (has_input) close(in_pipe[0]);
  // Until exec, the status pipe is open in the child: its end without a word means it runs.
  int e = 0;
  ssize_t got;
  do got = read(status_pipe[0], &e, sizeof e);
  while (got < 0 && errno == EINTR);
  close(status_pipe[0]);
  if (got == (ssize_t)sizeof e) {
    // Never ran (the reaper finds no entry for it later): its pipes go, and the answer says why.
    char why[512];
    snprintf(why, sizeof why, "spawn %s: %s", argv[0], strerror(e));
    free(argv);
    close(out_pipe[0]);
    close(err_pipe[0]);
    if (has_input) close(in_pipe[1]);
    refuse(id, why);
    return;
  }
  free(argv);
  struct child *c = calloc(1, sizeof *c);
  if (!c) die("calloc");
  c->id = id;
  c->pid = pid;
  c->out = out_pipe[0];
  c->err = err_pipe[0];
  c->in = has_input ? in_pipe[1] : -1;
  c->next = children;
  children = c;
  for (int i = 0; i < 3; i++) c->tags[i] = (struct tag){c, i};
  fcntl(c->out, F_SETFL, O_NONBLOCK);
  fcntl(c->err, F_SETFL, O_NONBLOCK);
  watch(c->out, EPOLLIN, &c->tags[1]);
  watch(c->err, EPOLLIN, &c->tags[2]);
  if (c->in >= 0) {
    c->input_len = len - off;
    c->input = malloc(c->input_len ? c->input_len : 1);
    if (!c->input) die("malloc");
    memcpy(c->input, p + off, c->input_len);
    fcntl(c->in, F_SETFL, O_NONBLOCK);
    watch(c->in, EPOLLOUT, &c->tags[0]);
  }
}

static void feed(struct child *c) {
  while (c->input_off < c->input_len) {
    ssize_t n = write(c->in, c->input + c->input_off, c->input_len - c->input_off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n < 0) break;  // it stopped reading: the rest is dropped
    c->input_off += (size_t)n;
  }
  close_stream(c, 0);
}

static void drain(struct child *c, int which) {
  char chunk[65536];
  int fd = which == 1 ? c->out : c->err;
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      close_stream(c, which);
      finish_if_done(c);
      return;
    }
    append(which == 1 ? &c->stdout_buf : &c->stderr_buf, chunk, (size_t)n, MAX_OUTPUT);
  }
}

static void reap(void) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    for (struct child *c = children; c; c = c->next) {
      if (c->pid != pid) continue;
      c->reaped = 1;
      c->status = status;
      finish_if_done(c);
      break;
    }
  }
}

int main(void) {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  signal(SIGPIPE, SIG_IGN);
  sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (sigfd < 0 || epfd < 0) die("signalfd/epoll");
  static int stdin_tag, sig_tag;
  watch(STDIN_FILENO, EPOLLIN, &stdin_tag);
  watch(sigfd, EPOLLIN, &sig_tag);
  struct buf in = {0};
  for (;;) {
    struct epoll_event events[32];
    int ready = epoll_wait(epfd, events, 32, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < ready; i++) {
      void *ptr = events[i].data.ptr;
      if (ptr == &sig_tag) {
        struct signalfd_siginfo si;
        while (read(sigfd, &si, sizeof si) == sizeof si)
          ;
        reap();
      } else if (ptr == &stdin_tag) {
        char chunk[65536];
        ssize_t n = read(STDIN_FILENO, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 0;  // the daemon is gone: so are we
        append(&in, chunk, (size_t)n, SIZE_MAX);
        size_t off = 0;
        while (in.len - off >= 4) {
          uint32_t len = get_u32((unsigned char *)in.data + off);
          if (len > MAX_FRAME || len < 5) die("bad frame");
          if (in.len - off - 4 < len) break;
          unsigned char *f = (unsigned char *)in.data + off + 4;
          uint32_t id = get_u32(f + 1);
          if (f[0] == 'R') start(id, f + 5, len - 5);
          else if (f[0] == 'K' && len >= 9) {
            for (struct child *c = children; c; c = c->next)
              if (c->id == id) kill(c->pid, (int)get_u32(f + 5));
          }
          off += 4 + len;
        }
        memmove(in.data, in.data + off, in.len - off);
        in.len -= off;
      } else {
        struct tag *t = ptr;
        if (t->c->done) continue;
        if (t->which == 0) feed(t->c);
        else drain(t->c, t->which);
      }
    }
    free_dead();
  }
}
