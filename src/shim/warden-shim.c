// warden-shim: runs one process of a container for wardend, and outlives it.
//
// It asks the OCI runtime to exec the process detached, so the process
// becomes our child (we are a subreaper), then waits for it and records how
// it ended, exactly: {"code":N} when it exited, {"signal":N} when a signal
// killed it. (conmon writes 128+N for both, so `exit 137` and SIGKILL look
// alike; Warden reports 255 for the second.) Output comes through pipes we
// splice into the files (pipes, not the files themselves: a process may
// open /dev/stdout again, as /proc/self/fd/1, which is a file's truncation
// but a pipe's new writer); with a terminal, the runtime hands us the pty's
// master over a console socket and we copy it to the stdout file. The pipes
// are given to the process's user (--owner, its host ids), so it can. Standard input,
// signals and window sizes come from wardend over ctl.sock, in frames of
// [type:1][length:4, big-endian][payload].
//
// Its working directory is the process's directory:
//   process.json   the OCI process (wardend writes it)
//   stdin          standard input given as data (--stdin file)
//   stdout stderr  output (a terminal's all goes to stdout)
//   ctl.sock       the control socket
//   shim.pid       our pid;  pid  the process's host pid (the runtime writes it)
//   started        the process's pid, once it runs
//   exit           how it ended, or {"error":"..."} when it never started
//   runtime.log    what the runtime said
//
// The first process exits once the process runs (0) or could not be started
// (2), so wardend's spawn of it answers "started?"; a second one supervises.
//
// With --init-socket, the container's init (warden-init) starts the process
// instead of the runtime's `exec`: we pass it process.spec and the stdio over
// its socket, and it tells us the pid, then how the process ended.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "write-all.h"
#include "container-log.h"

#define MAX_ARGS 64
#define MAX_CONNS 16
#define FRAME_MAX (1 << 20)
#define COPY_BUF 65536
/* Capacity of the output pipes (the unprivileged maximum, fs.pipe-max-size, by default). */
#define PIPE_BYTES (1024 * 1024)
#define COALESCE_BYTES (256 * 1024)
#define COALESCE_US 1000
/* How long the container's init may take to start a process (it is busy only with others' starts). */
#define INIT_TIMEOUT_MS 30000

enum { F_ATTACH_STDIN = 'i', F_DATA = 'd', F_EOF = 'e', F_SIGNAL = 's', F_WINSIZE = 'w', F_REOPEN_LOG = 'l' };

struct conn {
  int fd;
  int owns_stdin;
  size_t len;
  unsigned char *buf;
};

static const char *runtime_path;
static const char *runtime_args[MAX_ARGS];
static int n_runtime_args;
static const char *container_id;
static const char *stdin_mode = "none";
static const char *null_path = "/dev/null";
static int tty;
static unsigned short tty_rows = 24, tty_cols = 80;
static int discard;
/* Run mode: the process is a container of its own (a pea) whose bundle is here, made with `run`. */
static const char *bundle_dir;
/* The container's init, which starts processes for us (no runtime exec), and our connection to it. */
static const char *init_socket;
static int init_conn = -1;
/* The process's host uid and gid: its ends of the stdio pipes are theirs. */
static int owner_uid = -1, owner_gid = -1;
/* Our ends of the output pipes, and the files they go to. */
static int out_r = -1, err_r = -1, out_file = -1, err_file = -1;

static pid_t runtime_pid = -1, proc_pid = -1;
static int proc_done;
static int proc_status;
static int epfd = -1, sigfd = -1, ctl_fd = -1, console_fd = -1, master_fd = -1, out_fd = -1;
// Where stdin data goes: the write end of the process's stdin pipe, or the master.
static int stdin_w = -1;
static int stdin_closed;
static unsigned char *pending;  // stdin bytes waiting for the process to read
static size_t pending_len, pending_off;
static struct conn conns[MAX_CONNS];

// Exit statuses of children reaped before we knew the process's pid.
static struct { pid_t pid; int status; } early[64];
static int n_early;

static void die(const char *what) {
  fprintf(stderr, "warden-shim: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void usage(void) {
  fprintf(stderr,
          "usage: warden-shim --runtime PATH [--runtime-arg ARG]... --container ID\n"
          "                   [--stdin none|file|pipe] [--null PATH] [--tty ROWS COLS] [--discard]\n"
          "                   [--bundle DIR] [--owner UID:GID] [--init-socket PATH] [--log PATH]\n");
  exit(1);
}

// Written to a temporary name and renamed, so a reader sees all of it or
// nothing. No fsync: what must survive is the daemon's death, which leaves
// the page cache be (a host's crash takes the containers too), and on the
// depot's btrfs an fsync costs more than the runtime's exec.
static void write_file_atomically(const char *name, const char *text) {
  char tmp[64];
  snprintf(tmp, sizeof tmp, ".%s.tmp", name);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  write_all(fd, text, strlen(text));
  close(fd);
  rename(tmp, name);
}

static void json_string(char *out, size_t size, const char *s) {
  size_t o = 0;
  if (size < 3) return;
  out[o++] = '"';
  for (; *s && o + 8 < size; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      out[o++] = '\\';
      out[o++] = (char)c;
    } else if (c < 0x20) {
      o += (size_t)snprintf(out + o, size - o, "\\u%04x", c);
    } else {
      out[o++] = (char)c;
    }
  }
  out[o++] = '"';
  out[o] = 0;
}

// The last non-empty line the runtime logged, for the error it failed with.
static void last_runtime_line(char *out, size_t size) {
  out[0] = 0;
  int fd = open("runtime.log", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[4096];
  off_t end = lseek(fd, 0, SEEK_END);
  off_t start = end > (off_t)sizeof buf - 1 ? end - (off_t)sizeof buf + 1 : 0;
  ssize_t n = pread(fd, buf, sizeof buf - 1, start);
  close(fd);
  if (n <= 0) return;
  buf[n] = 0;
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = 0;
  char *line = strrchr(buf, '\n');
  line = line ? line + 1 : buf;
  size_t len = strlen(line);
  if (len >= size) len = size - 1;
  memcpy(out, line, len);
  out[len] = 0;
}


static void record_error(const char *why) {
  char quoted[4200], text[4300];
  json_string(quoted, sizeof quoted, why);
  snprintf(text, sizeof text, "{\"error\":%s}\n", quoted);
  write_file_atomically("exit", text);
}

// Why the runtime failed, in its own words when it logged any.
static void record_failure(const char *fallback) {
  char line[2048];
  last_runtime_line(line, sizeof line);
  record_error(line[0] ? line : fallback);
}

static void record_exit(int status) {
  char text[64];
  if (WIFSIGNALED(status))
    snprintf(text, sizeof text, "{\"signal\":%d}\n", WTERMSIG(status));
  else
    snprintf(text, sizeof text, "{\"code\":%d}\n", WEXITSTATUS(status));
  write_file_atomically("exit", text);
}

// Moves what an output pipe holds into its file, without copying through us;
// at its end (every writer gone) it stops watching it.
static size_t drain_output(int fd) {
  int file = fd == out_r ? out_file : err_file;
  size_t moved = 0;
  for (;;) {
    ssize_t n;
    if (container_log_path) {
      // With a container log the bytes are looked at (for its lines): read, then written to both.
      static char buf[COPY_BUF * 4];
      n = read(fd, buf, sizeof buf);
      if (n > 0) {
        write_all(file, buf, (size_t)n);
        container_log_write(fd == out_r ? 0 : 1, buf, (size_t)n);
      }
    } else {
      n = splice(fd, NULL, file, NULL, COPY_BUF * 16, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    }
    if (n > 0) {
      moved += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) {
      // The file takes no more (a full disk): what the pipe holds is dropped, so the process is not stalled.
      char buf[COPY_BUF];
      ssize_t r = read(fd, buf, sizeof buf);
      if (r > 0) continue;
      if (r < 0 && errno == EAGAIN) return moved;
      n = 0;
    }
    if (n == 0) {
      container_log_flush(fd == out_r ? 0 : 1);
      epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
      close(fd);
      if (fd == out_r) out_r = -1;
      else err_r = -1;
    }
    return moved;
  }
}

// After the process ended, what it started in the background may still hold
// the output pipes: closing our ends would kill each of them with SIGPIPE at
// its next write (a daemon's log line, bash's "fork: retry"), where a file
// would have taken it. So their output goes on to the files until the last
// writer is gone; nothing else is served (the end is recorded already).
static void keep_draining(void) {
  for (int c = 0; c < MAX_CONNS; c++)
    if (conns[c].fd >= 0) close(conns[c].fd);
  if (ctl_fd >= 0) close(ctl_fd);
  if (console_fd >= 0) close(console_fd);
  if (master_fd >= 0) close(master_fd);
  if (stdin_w >= 0) close(stdin_w);
  ctl_fd = console_fd = master_fd = stdin_w = -1;
  while (out_r >= 0 || err_r >= 0) {
    struct pollfd fds[2] = {{.fd = out_r, .events = POLLIN}, {.fd = err_r, .events = POLLIN}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < 2; i++)
      if (fds[i].fd >= 0 && fds[i].revents) drain_output(fds[i].fd);
  }
}

static void watch_fd(int fd, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.fd = fd};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
}

static void rewatch_fd(int fd, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.fd = fd};
  epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

static int listen_unix(const char *name) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", name);
  unlink(name);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
  if (chmod(name, 0600) < 0) die("chmod");
  if (listen(fd, 8) < 0) die("listen");
  return fd;
}

static int open_or_die(const char *path, int flags) {
  int fd = open(path, flags | O_CLOEXEC, 0600);
  if (fd < 0) {
    fprintf(stderr, "warden-shim: %s: %s\n", path, strerror(errno));
    exit(1);
  }
  return fd;
}

static void close_stdin(void) {
  if (stdin_closed) return;
  stdin_closed = 1;
  pending_len = pending_off = 0;
  if (tty) {
    // A terminal has no half-close: its end-of-file character stands for it.
    if (master_fd >= 0) {
      struct termios t;
      unsigned char eof = 4;
      if (tcgetattr(master_fd, &t) == 0) eof = t.c_cc[VEOF];
      write_all(master_fd, &eof, 1);
    }
    return;
  }
  if (stdin_w >= 0) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, stdin_w, NULL);
    close(stdin_w);
    stdin_w = -1;
  }
}

static int resume_frames;

static void pause_conns(int paused) {
  for (int i = 0; i < MAX_CONNS; i++)
    if (conns[i].fd >= 0) rewatch_fd(conns[i].fd, paused ? 0 : EPOLLIN);
}

static void want_writable(int on) {
  if (tty) {
    if (master_fd >= 0) rewatch_fd(master_fd, EPOLLIN | (on ? EPOLLOUT : 0));
  } else if (stdin_w >= 0) {
    rewatch_fd(stdin_w, on ? EPOLLOUT : 0);
  }
}

// Stdin bytes go out as the process takes them; meanwhile no more are read
// from wardend, so its socket pushes back instead of our memory growing.
static void flush_pending(void) {
  int target = tty ? master_fd : stdin_w;
  while (pending_off < pending_len && target >= 0) {
    ssize_t n = write(target, pending + pending_off, pending_len - pending_off);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      break;  // the reader is gone: what is left is dropped
    }
    pending_off += (size_t)n;
  }
  if (target < 0) return;
  pending_len = pending_off = 0;
  want_writable(0);
  pause_conns(0);
  // Frames already read behind this one are handled from the main loop.
  resume_frames = 1;
}

static void queue_stdin(const unsigned char *data, size_t len) {
  if (stdin_closed || len == 0) return;
  pending = realloc(pending, len);
  if (!pending) die("realloc");
  memcpy(pending, data, len);
  pending_len = len;
  pending_off = 0;
  pause_conns(1);
  flush_pending();
  if (pending_len > 0) want_writable(1);
}

static void signal_process(int sig) {
  if (proc_pid > 0 && !proc_done) kill(proc_pid, sig);
}

static void set_winsize(unsigned short rows, unsigned short cols) {
  tty_rows = rows;
  tty_cols = cols;
  if (master_fd < 0) return;
  struct winsize ws = {.ws_row = rows, .ws_col = cols};
  ioctl(master_fd, TIOCSWINSZ, &ws);
}

static void drop_conn(struct conn *c) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->fd = -1;
  free(c->buf);
  c->buf = NULL;
  c->len = 0;
  if (c->owns_stdin) close_stdin();
  c->owns_stdin = 0;
}

static void handle_frame(struct conn *c, unsigned char type, const unsigned char *p, uint32_t len) {
  switch (type) {
    case F_ATTACH_STDIN:
      c->owns_stdin = 1;
      break;
    case F_DATA:
      queue_stdin(p, len);
      break;
    case F_EOF:
      close_stdin();
      break;
    case F_SIGNAL:
      if (len == 4) signal_process((int)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]));
      break;
    case F_WINSIZE:
      if (len == 4) set_winsize((unsigned short)(p[0] << 8 | p[1]), (unsigned short)(p[2] << 8 | p[3]));
      break;
    case F_REOPEN_LOG:
      container_log_open();
      break;
    default:
      break;
  }
}

// Handles whole frames while no stdin is waiting for the process.
static void process_frames(struct conn *c) {
  size_t off = 0;
  while (pending_len == 0 && c->len - off >= 5) {
    unsigned char *h = c->buf + off;
    uint32_t len = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
    if (len > FRAME_MAX) {
      drop_conn(c);
      return;
    }
    if (c->len - off < 5 + (size_t)len) break;
    handle_frame(c, h[0], h + 5, len);
    off += 5 + len;
  }
  memmove(c->buf, c->buf + off, c->len - off);
  c->len -= off;
}

static void read_conn(struct conn *c) {
  unsigned char buf[COPY_BUF];
  ssize_t n = read(c->fd, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    drop_conn(c);
    return;
  }
  c->buf = realloc(c->buf, c->len + (size_t)n);
  if (!c->buf) die("realloc");
  memcpy(c->buf + c->len, buf, (size_t)n);
  c->len += (size_t)n;
  process_frames(c);
}

static void accept_conn(void) {
  for (;;) {
    int fd = accept4(ctl_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    int i;
    for (i = 0; i < MAX_CONNS && conns[i].fd >= 0; i++)
      ;
    if (i == MAX_CONNS) {
      close(fd);
      continue;
    }
    conns[i] = (struct conn){.fd = fd};
    watch_fd(fd, pending_len > 0 ? 0 : EPOLLIN);
  }
}

// The runtime sends the terminal's master end as SCM_RIGHTS on the console socket.
static void accept_console(void) {
  int fd = accept4(console_fd, NULL, NULL, SOCK_CLOEXEC);
  if (fd < 0) return;
  char data[256];
  char control[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  ssize_t n;
  do n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  close(fd);
  struct cmsghdr *cm = n >= 0 ? CMSG_FIRSTHDR(&msg) : NULL;
  if (!cm || cm->cmsg_type != SCM_RIGHTS) return;
  memcpy(&master_fd, CMSG_DATA(cm), sizeof(int));
  epoll_ctl(epfd, EPOLL_CTL_DEL, console_fd, NULL);
  close(console_fd);
  console_fd = -1;
  unlink("console.sock");
  fcntl(master_fd, F_SETFL, fcntl(master_fd, F_GETFL) | O_NONBLOCK);
  set_winsize(tty_rows, tty_cols);
  watch_fd(master_fd, EPOLLIN);
  if (pending_len > 0) {
    flush_pending();
    if (pending_len > 0) want_writable(1);
  }
  if (stdin_closed) {
    stdin_closed = 0;
    close_stdin();
  }
}

// Returns 0 once the master has nothing more (EOF, EIO or no data for now with `drain`).
static int copy_master(int drain) {
  char buf[COPY_BUF];
  for (;;) {
    ssize_t n = read(master_fd, buf, sizeof buf);
    if (n > 0) {
      write_all(out_fd, buf, (size_t)n);
      container_log_write(0, buf, (size_t)n);
      if (!drain) return 1;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return drain ? 0 : 1;
    // EIO: no process holds the terminal any more.
    epoll_ctl(epfd, EPOLL_CTL_DEL, master_fd, NULL);
    return 0;
  }
}

static void started(void) {
  char text[32];
  snprintf(text, sizeof text, "%d\n", proc_pid);
  write_file_atomically("started", text);
}

static pid_t read_pid_file(void) {
  char buf[32] = {0};
  int fd = open("pid", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  return (pid_t)atoi(buf);
}

static int notify_fd = -1;

static void notify_parent(char outcome) {
  if (notify_fd < 0) return;
  write_all(notify_fd, &outcome, 1);
  close(notify_fd);
  notify_fd = -1;
}

static void reap(void) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    if (pid == runtime_pid) {
      runtime_pid = 0;
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        record_failure("the runtime could not start the process");
        notify_parent('F');
        exit(0);
      }
      proc_pid = read_pid_file();
      if (proc_pid <= 0) {
        record_failure("the runtime wrote no pid");
        notify_parent('F');
        exit(0);
      }
      started();
      notify_parent('S');
      for (int i = 0; i < n_early; i++) {
        if (early[i].pid == proc_pid) {
          proc_done = 1;
          proc_status = early[i].status;
        }
      }
    } else if (proc_pid > 0 && pid == proc_pid) {
      proc_done = 1;
      proc_status = status;
    } else if (proc_pid <= 0 && n_early < (int)(sizeof early / sizeof early[0])) {
      early[n_early].pid = pid;
      early[n_early].status = status;
      n_early++;
    }
  }
}

static void write_pid_file(pid_t pid) {
  char text[32];
  snprintf(text, sizeof text, "%d\n", pid);
  write_file_atomically("pid", text);
}

// Asks the container's init to start the process with these as its stdio.
// Returns 0 once it runs (proc_pid known), else -1 with why in `why`.
static int start_through_init(int in_fd, int out_fd, int err_fd, char *why, size_t why_size) {
  int spec = open("process.spec", O_RDONLY | O_CLOEXEC);
  if (spec < 0) return snprintf(why, why_size, "process.spec: %s", strerror(errno)), -1;
  int status[2];
  if (pipe2(status, O_CLOEXEC) < 0) die("pipe");
  int conn = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (conn < 0) die("socket");
  int on = 1;
  // The init's child sends a byte as it is about to exec: the kernel adds its pid, as our namespace sees it.
  setsockopt(conn, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", init_socket);
  int rc;
  do rc = connect(conn, (struct sockaddr *)&addr, sizeof addr);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    snprintf(why, why_size, "the container's init does not answer: %s", strerror(errno));
    close(spec), close(status[0]), close(status[1]), close(conn);
    return -1;
  }
  int fds[5] = {spec, in_fd, out_fd, err_fd, status[1]};
  char control[CMSG_SPACE(sizeof fds)];
  memset(control, 0, sizeof control);
  struct iovec iov = {.iov_base = "R", .iov_len = 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof fds);
  memcpy(CMSG_DATA(cm), fds, sizeof fds);
  do rc = (int)sendmsg(conn, &msg, MSG_NOSIGNAL);
  while (rc < 0 && errno == EINTR);
  close(spec);
  close(status[1]);
  if (rc != 1) {
    snprintf(why, why_size, "the container's init took no request: %s", strerror(errno));
    close(status[0]), close(conn);
    return -1;
  }
  // The status pipe ends when the process execs (its end is close-on-exec); before that, it says why not.
  size_t said = 0;
  for (;;) {
    struct pollfd pfd = {.fd = status[0], .events = POLLIN};
    int ready = poll(&pfd, 1, INIT_TIMEOUT_MS);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      snprintf(why, why_size, "the container's init did not start the process in %d s", INIT_TIMEOUT_MS / 1000);
      close(status[0]), close(conn);
      return -1;
    }
    ssize_t n = read(status[0], why + said, why_size - 1 - said);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || said + (size_t)n >= why_size - 1) {
      if (n > 0) said += (size_t)n;
      break;
    }
    said += (size_t)n;
  }
  close(status[0]);
  why[said] = 0;
  if (said > 0) {
    close(conn);
    return -1;
  }
  char byte = 0;
  char ccontrol[CMSG_SPACE(sizeof(struct ucred))];
  struct iovec riov = {.iov_base = &byte, .iov_len = 1};
  struct msghdr rmsg = {.msg_iov = &riov, .msg_iovlen = 1, .msg_control = ccontrol, .msg_controllen = sizeof ccontrol};
  ssize_t n;
  do n = recvmsg(conn, &rmsg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  struct cmsghdr *rc_cm = n == 1 ? CMSG_FIRSTHDR(&rmsg) : NULL;
  if (byte != 'P' || !rc_cm || rc_cm->cmsg_type != SCM_CREDENTIALS) {
    snprintf(why, why_size, "the container's init did not start the process");
    close(conn);
    return -1;
  }
  struct ucred cred;
  memcpy(&cred, CMSG_DATA(rc_cm), sizeof cred);
  proc_pid = cred.pid;
  init_conn = conn;
  fcntl(init_conn, F_SETFL, O_NONBLOCK);
  write_pid_file(proc_pid);
  return 0;
}

// The init's word on how the process ended; its connection ending without
// one means the init is gone, and with it every process of the container.
static void read_init(void) {
  static unsigned char msg[5];
  static size_t have;
  for (;;) {
    ssize_t n = read(init_conn, msg + have, sizeof msg - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n > 0) {
      have += (size_t)n;
      if (have < sizeof msg) continue;
      proc_status = (int)((uint32_t)msg[1] << 24 | (uint32_t)msg[2] << 16 | (uint32_t)msg[3] << 8 | msg[4]);
    } else {
      proc_status = SIGKILL;
    }
    proc_done = 1;
    epoll_ctl(epfd, EPOLL_CTL_DEL, init_conn, NULL);
    close(init_conn);
    init_conn = -1;
    return;
  }
}

static void parse_args(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--runtime") && i + 1 < argc) runtime_path = argv[++i];
    else if (!strcmp(a, "--runtime-arg") && i + 1 < argc && n_runtime_args < MAX_ARGS - 16)
      runtime_args[n_runtime_args++] = argv[++i];
    else if (!strcmp(a, "--container") && i + 1 < argc) container_id = argv[++i];
    else if (!strcmp(a, "--stdin") && i + 1 < argc) stdin_mode = argv[++i];
    else if (!strcmp(a, "--null") && i + 1 < argc) null_path = argv[++i];
    else if (!strcmp(a, "--discard")) discard = 1;
    else if (!strcmp(a, "--bundle") && i + 1 < argc) bundle_dir = argv[++i];
    else if (!strcmp(a, "--init-socket") && i + 1 < argc) init_socket = argv[++i];
    else if (!strcmp(a, "--log") && i + 1 < argc) container_log_path = argv[++i];
    else if (!strcmp(a, "--owner") && i + 1 < argc) {
      if (sscanf(argv[++i], "%d:%d", &owner_uid, &owner_gid) != 2) usage();
    }
    else if (!strcmp(a, "--tty") && i + 2 < argc) {
      tty = 1;
      tty_rows = (unsigned short)atoi(argv[++i]);
      tty_cols = (unsigned short)atoi(argv[++i]);
    } else usage();
  }
  if (!runtime_path || !container_id) usage();
  if (strcmp(stdin_mode, "none") && strcmp(stdin_mode, "file") && strcmp(stdin_mode, "pipe")) usage();
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  for (int i = 0; i < MAX_CONNS; i++) conns[i].fd = -1;
  container_log_open();

  int notify[2];
  if (pipe2(notify, O_CLOEXEC) < 0) die("pipe");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child > 0) {
    // The first process: tells wardend whether the process started.
    close(notify[1]);
    char outcome = 0;
    ssize_t n;
    do n = read(notify[0], &outcome, 1);
    while (n < 0 && errno == EINTR);
    exit(outcome == 'S' ? 0 : outcome == 'F' ? 2 : 1);
  }
  close(notify[0]);
  notify_fd = notify[1];
  setsid();
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) die("prctl");
  {
    char text[32];
    snprintf(text, sizeof text, "%d\n", getpid());
    write_file_atomically("shim.pid", text);
  }

  sigset_t mask;
  sigemptyset(&mask);
  int forwarded[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
  for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) sigaddset(&mask, forwarded[i]);
  if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) die("sigprocmask");
  signal(SIGPIPE, SIG_IGN);
  sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sigfd < 0) die("signalfd");
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1");
  watch_fd(sigfd, EPOLLIN);
  ctl_fd = listen_unix("ctl.sock");
  watch_fd(ctl_fd, EPOLLIN);
  if (tty) {
    console_fd = listen_unix("console.sock");
    watch_fd(console_fd, EPOLLIN);
  }

  // The process's stdio, as the runtime will pass it on.
  int in_fd, err_fd;
  int stdin_pipe[2] = {-1, -1};
  int null_fd = open_or_die(null_path, O_RDWR);
  int log_fd = open_or_die("runtime.log", O_WRONLY | O_CREAT | O_APPEND);
  if (!strcmp(stdin_mode, "file")) in_fd = open_or_die("stdin", O_RDONLY);
  else if (!strcmp(stdin_mode, "pipe")) {
    if (pipe2(stdin_pipe, O_CLOEXEC) < 0) die("pipe");
    in_fd = stdin_pipe[0];
    stdin_w = stdin_pipe[1];
    fcntl(stdin_w, F_SETFL, O_NONBLOCK);
    watch_fd(stdin_w, 0);
  } else in_fd = null_fd;
  if (tty) {
    out_fd = discard ? null_fd : open_or_die("stdout", O_WRONLY | O_CREAT | O_APPEND);
    err_fd = -1;
  } else if (discard) {
    out_fd = err_fd = null_fd;
  } else {
    // Not O_APPEND (splice refuses it): we are their only writer, at their end.
    out_file = open_or_die("stdout", O_WRONLY | O_CREAT);
    err_file = open_or_die("stderr", O_WRONLY | O_CREAT);
    lseek(out_file, 0, SEEK_END);
    lseek(err_file, 0, SEEK_END);
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0) die("pipe");
    // Big pipes: a process writing fast blocks less often, and each splice moves more.
    fcntl(out_pipe[1], F_SETPIPE_SZ, PIPE_BYTES);
    fcntl(err_pipe[1], F_SETPIPE_SZ, PIPE_BYTES);
    out_r = out_pipe[0];
    err_r = err_pipe[0];
    out_fd = out_pipe[1];
    err_fd = err_pipe[1];
    fcntl(out_r, F_SETFL, O_NONBLOCK);
    fcntl(err_r, F_SETFL, O_NONBLOCK);
    watch_fd(out_r, EPOLLIN);
    watch_fd(err_r, EPOLLIN);
  }
  if (owner_uid >= 0) {
    // Its ends of the pipes are the process's user's, so it may open them again through /proc/self/fd.
    if (!tty && !discard) {
      fchown(out_fd, (uid_t)owner_uid, (gid_t)owner_gid);
      fchown(err_fd, (uid_t)owner_uid, (gid_t)owner_gid);
    }
    if (stdin_pipe[0] >= 0) fchown(stdin_pipe[0], (uid_t)owner_uid, (gid_t)owner_gid);
  }

  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) die("getcwd");
  char log_arg[4200], pid_arg[4200], process_arg[4200];
  snprintf(log_arg, sizeof log_arg, "--log=%s/runtime.log", cwd);
  snprintf(pid_arg, sizeof pid_arg, "%s/pid", cwd);
  snprintf(process_arg, sizeof process_arg, "%s/process.json", cwd);
  const char *args[MAX_ARGS + 16];
  int n = 0;
  args[n++] = runtime_path;
  for (int i = 0; i < n_runtime_args; i++) args[n++] = runtime_args[i];
  args[n++] = log_arg;
  if (bundle_dir) {
    // A container of its own, made and started at once; its process is this shim's to reap all the same.
    args[n++] = "run";
    args[n++] = "--detach";
    args[n++] = "--bundle";
    args[n++] = bundle_dir;
    args[n++] = "--pid-file";
    args[n++] = pid_arg;
  } else {
    args[n++] = "exec";
    args[n++] = "--detach";
    args[n++] = "--pid-file";
    args[n++] = pid_arg;
    args[n++] = "--process";
    args[n++] = process_arg;
  }
  if (tty) {
    // Relative: the runtime connects from this directory, and the path stays short.
    args[n++] = "--console-socket";
    args[n++] = "console.sock";
  }
  args[n++] = container_id;
  args[n] = NULL;

  if (init_socket && !bundle_dir && !tty) {
    char why[2048];
    if (start_through_init(in_fd, out_fd, err_fd, why, sizeof why) < 0) {
      record_error(why);
      notify_parent('F');
      return 0;
    }
    started();
    notify_parent('S');
    watch_fd(init_conn, EPOLLIN);
  } else if ((runtime_pid = fork()) < 0) {
    die("fork");
  } else if (runtime_pid == 0) {
    int in = tty ? null_fd : in_fd;
    int out = tty ? null_fd : out_fd;
    int err = tty ? log_fd : err_fd;
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(127);
    sigprocmask(SIG_UNBLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_DFL);
    execv(runtime_path, (char *const *)args);
    dprintf(log_fd, "cannot run %s: %s\n", runtime_path, strerror(errno));
    _exit(127);
  }
  // The process holds its ends now (through the runtime); ours are not needed.
  if (stdin_pipe[0] >= 0) close(stdin_pipe[0]);
  if (in_fd != null_fd && stdin_pipe[0] < 0) close(in_fd);
  if (err_fd >= 0 && err_fd != null_fd) close(err_fd);
  if (!tty && out_fd != null_fd) {
    close(out_fd);
    out_fd = -1;
  }
  // Our copies of the write ends are gone: the pipes end when the process and its children close theirs.
  close(log_fd);

  struct epoll_event events[16];
  size_t moved = 0;
  while (!proc_done) {
    // A process writing in small pieces wakes us for each: a moment's wait
    // lets its output gather, so each splice (and the file's change event the
    // daemon gets for it) carries more. Its pipe holds 1 MiB meanwhile.
    if (moved > 0 && moved < COALESCE_BYTES) usleep(COALESCE_US);
    moved = 0;
    int ready = epoll_wait(epfd, events, 16, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < ready; i++) {
      int fd = events[i].data.fd;
      if (fd == sigfd) {
        struct signalfd_siginfo si;
        while (read(sigfd, &si, sizeof si) == sizeof si) {
          if (si.ssi_signo == SIGCHLD) reap();
          else signal_process((int)si.ssi_signo);
        }
      } else if (fd == ctl_fd) {
        accept_conn();
      } else if (fd == console_fd) {
        accept_console();
      } else if (fd == master_fd) {
        if (events[i].events & EPOLLIN) copy_master(0);
        if (events[i].events & EPOLLOUT) flush_pending();
        if (!(events[i].events & (EPOLLIN | EPOLLOUT))) epoll_ctl(epfd, EPOLL_CTL_DEL, master_fd, NULL);
      } else if (fd == stdin_w) {
        flush_pending();
      } else if (fd == out_r || fd == err_r) {
        moved += drain_output(fd);
      } else if (fd == init_conn) {
        read_init();
      } else {
        for (int c = 0; c < MAX_CONNS; c++)
          if (conns[c].fd == fd) read_conn(&conns[c]);
      }
    }
    while (resume_frames && pending_len == 0) {
      resume_frames = 0;
      for (int c = 0; c < MAX_CONNS; c++)
        if (conns[c].fd >= 0 && conns[c].len > 0) process_frames(&conns[c]);
    }
  }
  if (master_fd >= 0) {
    copy_master(1);
    container_log_flush(0);
  }
  // What the process wrote before it ended is in the pipes: all of it goes to the files first.
  if (out_r >= 0) drain_output(out_r);
  if (err_r >= 0) drain_output(err_r);
  record_exit(proc_status);
  if (out_r >= 0 || err_r >= 0) keep_draining();
  // Reap what the runtime may have left; nothing else of ours runs.
  while (waitpid(-1, NULL, WNOHANG) > 0)
    ;
  return 0;
}
