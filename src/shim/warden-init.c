// warden-init: PID 1 of a container, and the starter of its processes
// (Warden's wshd, in its place). Two ways to run it:
//
//   warden-init                        in the container, as its init: reaps
//       every orphan; when fd 3 is a listening socket (passed through the
//       supervisor and the OCI runtime as systemd's LISTEN_FDS), it also
//       starts processes for warden-shim, without a runtime `exec` per process.
//   warden-init --bind PATH [--mount-ns PIN --wd DIR] -- CMD...  on the host:
//       listens on PATH, makes it fd 3 with LISTEN_FDS=1 and execs CMD (the
//       supervisor that creates the container), so the socket reaches the init
//       and nothing inside the container can see its path; with --mount-ns,
//       in that mount namespace and DIR (opened before entering), as nsenter
//       would, one program fewer to start.
//
// A request is one byte with five descriptors (SCM_RIGHTS): the process's spec
// (a file of NUL-terminated key=value entries, written by wardend), its stdin,
// stdout and stderr, and a status pipe. The child does what the runtime's exec
// would (session, rlimits, bounding set, groups, ids, capabilities, working
// directory), tells its pid by sending one byte (the kernel attaches its
// credentials, in the receiver's namespaces), and execs; why an exec failed
// goes into the status pipe, whose end at exec means it started. When it ends,
// its wait status goes back as 'X' and four bytes, big-endian.
//
// Only peers outside the container's pid namespace (pid 0 as seen from here)
// are served: the host's shims, never the container's own processes.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "write-all.h"

#define LISTEN_FD 3
#define SPEC_MAX (8 * 1024 * 1024)
#define MAX_ITEMS 65536
#define REQUEST_FDS 5

struct job {
  pid_t pid;
  int conn;
};

static struct job *jobs;
static size_t n_jobs, cap_jobs;

// ---- host side: --bind ----

static int bind_and_exec(const char *path, const char *mount_ns, const char *wd, char **argv) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return perror("warden-init: socket"), 1;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) return fprintf(stderr, "warden-init: %s: path too long\n", path), 1;
  strcpy(addr.sun_path, path);
  unlink(path);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) return perror("warden-init: bind"), 1;
  if (chmod(path, 0600) < 0) return perror("warden-init: chmod"), 1;
  if (listen(fd, 64) < 0) return perror("warden-init: listen"), 1;
  if (fd != LISTEN_FD) {
    if (dup2(fd, LISTEN_FD) < 0) return perror("warden-init: dup2"), 1;
    close(fd);
  }
  if (mount_ns) {
    int dir = open(wd, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int ns = open(mount_ns, O_RDONLY | O_CLOEXEC);
    if (dir < 0 || ns < 0) return perror("warden-init: open"), 1;
    if (setns(ns, CLONE_NEWNS) < 0) return perror("warden-init: setns"), 1;
    if (fchdir(dir) < 0) return perror("warden-init: fchdir"), 1;
    close(dir);
    close(ns);
  }
  setenv("LISTEN_FDS", "1", 1);
  // runc takes the descriptors only when LISTEN_PID is its own pid: conmon puts it there (--replace-listen-pid).
  char pid[16];
  snprintf(pid, sizeof pid, "%d", getpid());
  setenv("LISTEN_PID", pid, 1);
  execvp(argv[0], argv);
  fprintf(stderr, "warden-init: cannot run %s: %s\n", argv[0], strerror(errno));
  return 1;
}

// ---- in the container: the spec ----

struct spec {
  char *data;
  char *args[MAX_ITEMS / 2];
  size_t n_args;
  char *env[MAX_ITEMS / 2];
  size_t n_env;
  const char *cwd;
  uid_t uid;
  gid_t gid;
  gid_t groups[1024];
  size_t n_groups;
  uint64_t bounding, effective, permitted, inheritable, ambient;
  int no_new_privileges;
  struct {
    int resource;
    struct rlimit limit;
  } rlimits[RLIM_NLIMITS];
  size_t n_rlimits;
};

static int read_spec(int fd, struct spec *s, char *why, size_t why_size) {
  size_t cap = 65536, len = 0;
  s->data = malloc(cap + 1);
  if (!s->data) return snprintf(why, why_size, "out of memory"), -1;
  for (;;) {
    if (len == cap) {
      if (cap >= SPEC_MAX) return snprintf(why, why_size, "process spec too large"), -1;
      cap *= 2;
      char *more = realloc(s->data, cap + 1);
      if (!more) return snprintf(why, why_size, "out of memory"), -1;
      s->data = more;
    }
    ssize_t n = read(fd, s->data + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return snprintf(why, why_size, "reading the process spec: %s", strerror(errno)), -1;
    if (n == 0) break;
    len += (size_t)n;
  }
  s->data[len] = 0;
  s->cwd = "/";
  for (char *p = s->data, *next; p < s->data + len; p = next) {
    next = p + strlen(p) + 1;
    char *eq = strchr(p, '=');
    if (!eq) continue;
    *eq = 0;
    char *v = eq + 1;
    if (!strcmp(p, "arg") && s->n_args < MAX_ITEMS / 2 - 1) s->args[s->n_args++] = v;
    else if (!strcmp(p, "env") && s->n_env < MAX_ITEMS / 2 - 1) s->env[s->n_env++] = v;
    else if (!strcmp(p, "cwd")) s->cwd = v;
    else if (!strcmp(p, "nnp")) s->no_new_privileges = !strcmp(v, "1");
    else if (!strcmp(p, "uid")) s->uid = (uid_t)strtoul(v, NULL, 10);
    else if (!strcmp(p, "gid")) s->gid = (gid_t)strtoul(v, NULL, 10);
    else if (!strcmp(p, "group") && s->n_groups < sizeof s->groups / sizeof s->groups[0])
      s->groups[s->n_groups++] = (gid_t)strtoul(v, NULL, 10);
    else if (!strcmp(p, "cap.bounding")) s->bounding = strtoull(v, NULL, 16);
    else if (!strcmp(p, "cap.effective")) s->effective = strtoull(v, NULL, 16);
    else if (!strcmp(p, "cap.permitted")) s->permitted = strtoull(v, NULL, 16);
    else if (!strcmp(p, "cap.inheritable")) s->inheritable = strtoull(v, NULL, 16);
    else if (!strcmp(p, "cap.ambient")) s->ambient = strtoull(v, NULL, 16);
    else if (!strcmp(p, "rlimit") && s->n_rlimits < RLIM_NLIMITS) {
      unsigned long long soft, hard;
      int resource;
      if (sscanf(v, "%d %llu %llu", &resource, &soft, &hard) == 3) {
        s->rlimits[s->n_rlimits].resource = resource;
        s->rlimits[s->n_rlimits].limit = (struct rlimit){.rlim_cur = soft, .rlim_max = hard};
        s->n_rlimits++;
      }
    }
  }
  s->args[s->n_args] = NULL;
  s->env[s->n_env] = NULL;
  if (s->n_args == 0) return snprintf(why, why_size, "the process spec has no arguments"), -1;
  return 0;
}

// ---- in the container: the child that becomes the process ----

static const char *env_value(char **env, const char *name) {
  size_t n = strlen(name);
  for (; *env; env++)
    if (!strncmp(*env, name, n) && (*env)[n] == '=') return *env + n + 1;
  return NULL;
}

// The program as the runtimes find it: a name without a slash is looked up
// in the process's own PATH.
static int find_program(const char *name, char **env, char *out, size_t size) {
  if (strchr(name, '/')) {
    snprintf(out, size, "%s", name);
    return 0;
  }
  const char *path = env_value(env, "PATH");
  if (!path) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  while (*path) {
    const char *end = strchrnul(path, ':');
    snprintf(out, size, "%.*s/%s", (int)(end - path), path, name);
    struct stat st;
    if (end > path && stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0) return 0;
    path = *end ? end + 1 : end;
  }
  return -1;
}

static int last_cap(void) {
  int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  char buf[16] = {0};
  if (fd >= 0) {
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n > 0) return atoi(buf);
  }
  return CAP_LAST_CAP;
}

static void fail_child(int status_fd, const char *fmt, const char *arg, int err) {
  char text[4400];
  int n = snprintf(text, sizeof text, fmt, arg);
  if (err) snprintf(text + n, sizeof text - (size_t)n, ": %s", strerror(err));
  write_all(status_fd, text, strlen(text));
  _exit(127);
}

static void become_process(int conn, int fds[REQUEST_FDS]) {
  int status_fd = fds[4];
  sigset_t all;
  sigfillset(&all);
  for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
  sigprocmask(SIG_UNBLOCK, &all, NULL);
  struct spec *s = calloc(1, sizeof *s);
  char why[512];
  if (!s) fail_child(status_fd, "out of memory", NULL, 0);
  if (read_spec(fds[0], s, why, sizeof why) < 0) fail_child(status_fd, "%s", why, 0);
  // Its own session: a signal to its process group reaches neither us nor its siblings.
  setsid();
  for (int i = 0; i < 3; i++)
    if (dup2(fds[1 + i], i) < 0) fail_child(status_fd, "setting up stdio", NULL, errno);
  for (size_t i = 0; i < s->n_rlimits; i++)
    if (setrlimit(s->rlimits[i].resource, &s->rlimits[i].limit) < 0) fail_child(status_fd, "setrlimit", NULL, errno);
  int last = last_cap();
  for (int c = 0; c <= last && c < 64; c++)
    if (!(s->bounding & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
      fail_child(status_fd, "dropping capabilities", NULL, errno);
  if (setgroups(s->n_groups, s->groups) < 0) fail_child(status_fd, "setgroups", NULL, errno);
  if (setresgid(s->gid, s->gid, s->gid) < 0) fail_child(status_fd, "setresgid", NULL, errno);
  prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
  if (setresuid(s->uid, s->uid, s->uid) < 0) fail_child(status_fd, "setresuid", NULL, errno);
  prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2] = {
      {(uint32_t)s->effective, (uint32_t)s->permitted, (uint32_t)s->inheritable},
      {(uint32_t)(s->effective >> 32), (uint32_t)(s->permitted >> 32), (uint32_t)(s->inheritable >> 32)},
  };
  if (syscall(SYS_capset, &header, data) < 0) fail_child(status_fd, "capset", NULL, errno);
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  for (int c = 0; c <= last && c < 64; c++)
    if (s->ambient & (1ULL << c)) prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0);
  // Before exec: root's exec would otherwise raise its capabilities to the bounding set.
  if (s->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail_child(status_fd, "no_new_privs", NULL, errno);
  // As its user, so the directory's permissions apply to it.
  if (chdir(s->cwd) < 0) fail_child(status_fd, "chdir to `%s`", s->cwd, errno);
  char program[4096];
  if (find_program(s->args[0], s->env, program, sizeof program) < 0)
    fail_child(status_fd, "executable file `%s` not found in $PATH: No such file or directory", s->args[0], 0);
  // Our pid, as the shim's namespace sees it, rides on this byte.
  if (send(conn, "P", 1, MSG_NOSIGNAL) != 1) _exit(127);
  execve(program, s->args, s->env);
  fail_child(status_fd, "exec `%s`", program, errno);
}

// ---- in the container: the server ----

static int receive_request(int conn, int fds[REQUEST_FDS]) {
  char byte;
  char control[CMSG_SPACE(sizeof(int) * REQUEST_FDS)];
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  ssize_t n;
  do n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  struct cmsghdr *cm = n == 1 ? CMSG_FIRSTHDR(&msg) : NULL;
  if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) return -1;
  size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
  int got[REQUEST_FDS];
  memcpy(got, CMSG_DATA(cm), count * sizeof(int));
  if (count != REQUEST_FDS || byte != 'R' || (msg.msg_flags & MSG_CTRUNC)) {
    for (size_t i = 0; i < count && i < REQUEST_FDS; i++) close(got[i]);
    return -1;
  }
  memcpy(fds, got, sizeof got);
  return 0;
}

// Connections whose request has not come yet: each is read when it does, so
// a slow peer holds up nobody. The oldest goes when there are too many.
#define MAX_PENDING 64
static int pending[MAX_PENDING];
static size_t n_pending;
static int epfd = -1;

static void drop_pending(size_t i) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, pending[i], NULL);
  close(pending[i]);
  pending[i] = pending[--n_pending];
}

static void accept_peer(int listen_fd) {
  struct ucred peer;
  socklen_t len = sizeof peer;
  int conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (conn < 0) return;
  if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0 || peer.pid != 0) {
    close(conn);
    return;
  }
  if (n_pending == MAX_PENDING) drop_pending(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = conn};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, conn, &ev) < 0) {
    close(conn);
    return;
  }
  pending[n_pending++] = conn;
}

static void serve(int conn) {
  for (size_t i = 0; i < n_pending; i++) {
    if (pending[i] != conn) continue;
    epoll_ctl(epfd, EPOLL_CTL_DEL, conn, NULL);
    pending[i] = pending[--n_pending];
    break;
  }
  // Blocking again: the job's child writes its pid on it.
  fcntl(conn, F_SETFL, fcntl(conn, F_GETFL) & ~O_NONBLOCK);
  int fds[REQUEST_FDS];
  if (receive_request(conn, fds) < 0) {
    close(conn);
    return;
  }
  if (n_jobs == cap_jobs) {
    size_t more = cap_jobs ? cap_jobs * 2 : 16;
    struct job *grown = realloc(jobs, more * sizeof *grown);
    if (!grown) {
      for (int i = 0; i < REQUEST_FDS; i++) close(fds[i]);
      close(conn);
      return;
    }
    jobs = grown;
    cap_jobs = more;
  }
  pid_t pid = fork();
  if (pid == 0) become_process(conn, fds);
  for (int i = 0; i < REQUEST_FDS; i++) close(fds[i]);
  if (pid < 0) {
    close(conn);
    return;
  }
  jobs[n_jobs++] = (struct job){.pid = pid, .conn = conn};
}

static void reap(void) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    for (size_t i = 0; i < n_jobs; i++) {
      if (jobs[i].pid != pid) continue;
      unsigned char msg[5] = {'X', (unsigned char)(status >> 24), (unsigned char)(status >> 16), (unsigned char)(status >> 8),
                              (unsigned char)status};
      send(jobs[i].conn, msg, sizeof msg, MSG_NOSIGNAL);
      close(jobs[i].conn);
      jobs[i] = jobs[--n_jobs];
      break;
    }
  }
}

static int is_listening_socket(int fd) {
  int on = 0;
  socklen_t len = sizeof on;
  return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

int main(int argc, char **argv) {
  if (argc >= 4 && !strcmp(argv[1], "--bind") && !strcmp(argv[3], "--")) return bind_and_exec(argv[2], NULL, NULL, argv + 4);
  if (argc >= 8 && !strcmp(argv[1], "--bind") && !strcmp(argv[3], "--mount-ns") && !strcmp(argv[5], "--wd") && !strcmp(argv[7], "--"))
    return bind_and_exec(argv[2], argv[4], argv[6], argv + 8);
  if (argc > 1 && strcmp(argv[1], "-P")) {
    fprintf(stderr, "usage: warden-init [-P] | warden-init --bind PATH [--mount-ns PIN --wd DIR] -- COMMAND...\n");
    return 1;
  }
  // Nothing in the container may read our memory or descriptors through /proc.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // The runtime passes the socket on as fd 3 (its LISTEN_FDS in the environment varies: crun keeps only LISTEN_PID).
  int listen_fd = is_listening_socket(LISTEN_FD) ? LISTEN_FD : -1;
  if (listen_fd >= 0) fcntl(listen_fd, F_SETFD, FD_CLOEXEC);

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) return perror("warden-init: sigprocmask"), 1;
  signal(SIGPIPE, SIG_IGN);
  int sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (sigfd < 0 || epfd < 0) return perror("warden-init: signalfd/epoll"), 1;
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = sigfd};
  epoll_ctl(epfd, EPOLL_CTL_ADD, sigfd, &ev);
  if (listen_fd >= 0) {
    ev.data.fd = listen_fd;
    epoll_ctl(epfd, EPOLL_CTL_ADD, listen_fd, &ev);
  }
  for (;;) {
    struct epoll_event events[8];
    int ready = epoll_wait(epfd, events, 8, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    for (int i = 0; i < ready; i++) {
      if (listen_fd >= 0 && events[i].data.fd == listen_fd) {
        accept_peer(listen_fd);
        continue;
      }
      if (events[i].data.fd != sigfd) {
        serve(events[i].data.fd);
        continue;
      }
      struct signalfd_siginfo si;
      while (read(sigfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD) reap();
        // As a pause container: asked to stop, it stops (and the kernel ends the rest).
        else return 0;
      }
    }
  }
}
