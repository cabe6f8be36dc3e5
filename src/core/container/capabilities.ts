// Docker's default capability set, which Garden (Guardian) and Kubernetes'
// runtimes (containerd, CRI-O) also give a container's root by default: no
// CAP_SYS_ADMIN, CAP_NET_ADMIN or CAP_SYS_PTRACE, but CAP_NET_RAW.
export const DOCKER_DEFAULT_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
  "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE",
  "CAP_SETFCAP",
];
