// The seccomp filter of every container, made from a profile in the format
// Podman and Docker share (containers-common's seccomp.json): rules carry
// conditions on the architecture, the kernel and the capabilities a process
// holds, which the OCI format cannot express. They are resolved here, once,
// for this machine and for the widest capability set any job gets.
import { readFileSync } from "node:fs";
import { arch as hostArch, release } from "node:os";

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface OciSeccompRule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: SeccompArg[];
}

export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures: string[];
  syscalls: OciSeccompRule[];
}

interface Filter {
  arches?: string[];
  caps?: string[];
  minKernel?: string;
}

interface ProfileRule extends OciSeccompRule {
  includes?: Filter;
  excludes?: Filter;
}

interface Profile {
  defaultAction: string;
  defaultErrnoRet?: number;
  archMap?: { architecture: string; subArchitectures?: string[] }[];
  architectures?: string[];
  syscalls?: ProfileRule[];
}

export interface Target {
  /** Go's name of the architecture, as profiles write it: amd64, arm64. */
  arch: string;
  /** "6.1.0-13-amd64" and the like. */
  kernel: string;
  capabilities: readonly string[];
}

// Node's names of architectures to Go's and libseccomp's.
const ARCHES: Record<string, { go: string; scmp: string }> = {
  x64: { go: "amd64", scmp: "SCMP_ARCH_X86_64" },
  arm64: { go: "arm64", scmp: "SCMP_ARCH_AARCH64" },
  ia32: { go: "386", scmp: "SCMP_ARCH_X86" },
  arm: { go: "arm", scmp: "SCMP_ARCH_ARM" },
  ppc64: { go: "ppc64le", scmp: "SCMP_ARCH_PPC64LE" },
  s390x: { go: "s390x", scmp: "SCMP_ARCH_S390X" },
};

export class SeccompProfileError extends Error {}

export function hostTarget(capabilities: readonly string[]): Target {
  const arch = ARCHES[hostArch()];
  if (!arch) throw new SeccompProfileError(`no seccomp architecture known for ${hostArch()}`);
  return { arch: arch.go, kernel: release(), capabilities };
}

export function loadSeccompProfile(path: string, target: Target): OciSeccomp {
  let profile: unknown;
  try {
    profile = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new SeccompProfileError(`cannot read the seccomp profile ${path}: ${(err as Error).message}`);
  }
  return resolveProfile(profile, target);
}

/** The OCI filter the profile means for this target. */
export function resolveProfile(input: unknown, target: Target): OciSeccomp {
  const profile = input as Profile;
  if (typeof profile?.defaultAction !== "string" || !Array.isArray(profile.syscalls)) {
    throw new SeccompProfileError("the seccomp profile needs defaultAction and a list of syscalls");
  }
  const scmp = Object.values(ARCHES).find((a) => a.go === target.arch)?.scmp;
  const entry = profile.archMap?.find((a) => a.architecture === scmp);
  const architectures = entry ? [entry.architecture, ...(entry.subArchitectures ?? [])] : (profile.architectures ?? []);
  const syscalls: OciSeccompRule[] = [];
  for (const rule of profile.syscalls) {
    if (!Array.isArray(rule.names) || typeof rule.action !== "string") {
      throw new SeccompProfileError("every seccomp rule needs names and an action");
    }
    if (!applies(rule, target)) continue;
    syscalls.push({
      names: rule.names,
      action: rule.action,
      ...(rule.errnoRet === undefined ? {} : { errnoRet: rule.errnoRet }),
      ...(rule.args?.length ? { args: rule.args } : {}),
    });
  }
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet === undefined ? {} : { defaultErrnoRet: profile.defaultErrnoRet }),
    architectures,
    syscalls: target.capabilities.includes("CAP_SYS_ADMIN") ? syscalls : withoutNewNamespaces(syscalls),
  };
}

// CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET, as Docker's profile masks them.
const NEW_NAMESPACES = 0x7e020000;
const CLONE_NEWUSER = 0x10000000;
const ENOSYS = 38;
const EPERM = 1;

/**
 * No namespaces made inside a container without CAP_SYS_ADMIN, user
 * namespaces above all (the way in to most kernel attacks from an
 * unprivileged process): Podman's profile allows unshare and clone
 * outright; here they are allowed only without those flags, and clone3,
 * whose flags a filter cannot read, answers ENOSYS so libc falls back to
 * clone, as Docker's profile does.
 */
function withoutNewNamespaces(syscalls: OciSeccompRule[]): OciSeccompRule[] {
  const gated = new Set(["unshare", "clone", "clone3"]);
  const rest = syscalls
    .map((r) => ({ ...r, names: r.names.filter((n) => !gated.has(n)) }))
    .filter((r) => r.names.length > 0);
  const noNamespaceFlags = [{ index: 0, value: NEW_NAMESPACES, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }];
  // A new user namespace is refused with EPERM, as a process without the capability expects; other
  // namespace flags take the profile's default answer.
  const newUser = [{ index: 0, value: CLONE_NEWUSER, valueTwo: CLONE_NEWUSER, op: "SCMP_CMP_MASKED_EQ" }];
  return [
    ...rest,
    { names: ["unshare", "clone"], action: "SCMP_ACT_ALLOW", args: noNamespaceFlags },
    { names: ["unshare", "clone"], action: "SCMP_ACT_ERRNO", errnoRet: EPERM, args: newUser },
    { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS },
  ];
}

// A rule applies when every capability it includes is held, none it
// excludes is, the architecture is listed (or not excluded), and the kernel
// is recent enough.
function applies(rule: ProfileRule, target: Target): boolean {
  const inc = rule.includes ?? {};
  const exc = rule.excludes ?? {};
  if (inc.arches?.length && !inc.arches.includes(target.arch)) return false;
  if (exc.arches?.includes(target.arch)) return false;
  if (inc.caps?.length && !inc.caps.every((c) => target.capabilities.includes(c))) return false;
  if (exc.caps?.some((c) => target.capabilities.includes(c))) return false;
  if (inc.minKernel && compareKernel(target.kernel, inc.minKernel) < 0) return false;
  if (exc.minKernel && compareKernel(target.kernel, exc.minKernel) >= 0) return false;
  return true;
}

function compareKernel(a: string, b: string): number {
  const parse = (v: string) => (v.match(/^(\d+)\.(\d+)/) ?? ["", "0", "0"]).slice(1).map(Number);
  const [x, y] = [parse(a), parse(b)];
  return x[0] - y[0] || x[1] - y[1];
}
