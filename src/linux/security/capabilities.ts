// The capabilities a job gets. Root in a container gets the set Podman gives
// by default: enough to own files, change users and bind low ports, none
// that reach the kernel or other processes (no CAP_SYS_ADMIN, NET_ADMIN,
// NET_RAW, SYS_MODULE, SYS_RAWIO, SYS_TIME, SYS_PTRACE, MKNOD, AUDIT_*).
// The container user gets none.
export const ROOT_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_NET_BIND_SERVICE",
  "CAP_SETFCAP",
  "CAP_SETGID",
  "CAP_SETPCAP",
  "CAP_SETUID",
  "CAP_SYS_CHROOT",
];
