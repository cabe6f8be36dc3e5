// Users of a container, found in its /etc/passwd and /etc/group as Docker
// and Garden do: a name, a uid, uid:gid or name:group; supplementary groups
// are the groups that list the user by name.
import { errors } from "../errors.js";
import type { ResolvedUser } from "../interfaces/runtime.js";

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const ID = /^\d{1,10}$/;
const MAX_ID = 2 ** 32 - 2;

function id(text: string): number | undefined {
  if (!ID.test(text)) return undefined;
  const n = Number(text);
  return n <= MAX_ID ? n : undefined;
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 7 || line.startsWith("#")) continue;
    const uid = id(f[2]);
    const gid = id(f[3]);
    if (uid === undefined || gid === undefined || f[0] === "") continue;
    out.push({ name: f[0], uid, gid, home: f[5] || "/" });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 4 || line.startsWith("#")) continue;
    const gid = id(f[2]);
    if (gid === undefined || f[0] === "") continue;
    out.push({ name: f[0], gid, members: f[3].split(",").filter(Boolean) });
  }
  return out;
}

/** Checks the form of a user spec before anything is looked up. */
export function checkUserSpec(spec: string): void {
  const [user, group, extra] = spec.split(":");
  if (extra !== undefined || user === "" || group === "" || /[\s\0]/.test(spec)) {
    throw errors.invalid(`user ${JSON.stringify(spec)} is not a name, uid, uid:gid or name:group`);
  }
}

/**
 * The user `spec` names in these account files. A numeric uid unknown to
 * passwd is still a user: gid 0 (or the given one), home "/". A name that is
 * not there is an error naming it.
 */
export function resolveUser(spec: string, passwdText: string, groupText: string): ResolvedUser {
  checkUserSpec(spec);
  const [userPart, groupPart] = spec.split(":");
  const passwd = parsePasswd(passwdText);
  const groups = parseGroup(groupText);
  const uidNumber = id(userPart);
  const entry = uidNumber === undefined ? passwd.find((p) => p.name === userPart) : passwd.find((p) => p.uid === uidNumber);
  // Root is root without an account file (an image may have none), as runtimes have it.
  if (!entry && userPart === "root" && groupPart === undefined) return { ...ROOT_USER, groups: groups.filter((g) => g.members.includes("root")).map((g) => g.gid) };
  if (!entry && uidNumber === undefined) throw errors.userNotFound(userPart);
  let gid = entry?.gid ?? 0;
  if (groupPart !== undefined) {
    const gidNumber = id(groupPart);
    const group = gidNumber === undefined ? groups.find((g) => g.name === groupPart) : undefined;
    if (gidNumber === undefined && !group) throw errors.userNotFound(spec);
    gid = gidNumber ?? group!.gid;
  }
  const name = entry?.name ?? userPart;
  // As initgroups(3) makes them: the primary group, then every group naming the user.
  const supplementary = entry ? [gid, ...groups.filter((g) => g.members.includes(entry.name)).map((g) => g.gid)] : [];
  return {
    name,
    uid: entry?.uid ?? uidNumber!,
    gid,
    groups: [...new Set(supplementary)],
    home: entry?.home ?? "/",
  };
}

export const ROOT_USER: ResolvedUser = { name: "root", uid: 0, gid: 0, groups: [], home: "/root" };
