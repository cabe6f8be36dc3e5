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

// Linux's capabilities by number (capability.h), for reading a process's sets.
const CAPABILITY_NAMES = [
  "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
  "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
  "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
  "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
  "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
  "CHECKPOINT_RESTORE",
].map((n) => `CAP_${n}`);

/** A capability's number (capability.h); undefined for a name this kernel list lacks. */
export function capabilityNumber(name: string): number | undefined {
  const i = CAPABILITY_NAMES.indexOf(name);
  return i < 0 ? undefined : i;
}

/** The capabilities in a /proc/<pid>/status set (hex, as CapBnd shows it). */
export function capabilitiesOf(hex: string): string[] {
  const bits = BigInt(`0x${hex}`);
  return CAPABILITY_NAMES.filter((_, i) => (bits & (1n << BigInt(i))) !== 0n);
}

/**
 * What root in a privileged container gets: every capability this daemon
 * holds, not a fixed full set (root here may lack CAP_SYS_RESOURCE, and a
 * runtime asked for one it cannot give fails the process).
 */
export function heldCapabilities(status: string): string[] {
  const bounding = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status);
  return bounding ? capabilitiesOf(bounding[1]) : [...ROOT_CAPABILITIES];
}
