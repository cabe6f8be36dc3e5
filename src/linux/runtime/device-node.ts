// A host device node as the runtime makes it in a pea: its type and numbers
// read from the host, with what the pea may do with it (the cgroup's "rwm").
import { stat } from "node:fs/promises";
import { errors } from "../../core/errors.js";
import type { PeaDevice } from "../../core/interfaces/runtime.js";
import type { OciDevice } from "./oci-spec.js";

export async function deviceNode(d: PeaDevice): Promise<OciDevice & { access: string }> {
  const st = await stat(d.hostPath).catch(() => undefined);
  if (!st || !(st.isCharacterDevice() || st.isBlockDevice())) throw errors.invalid(`${d.hostPath} is no device node on the host`);
  // Linux's dev_t: the major's low 12 bits above the minor's low 8, the rest of each further up.
  const rdev = BigInt(st.rdev);
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { path: d.containerPath, type: st.isCharacterDevice() ? "c" : "b", major, minor, fileMode: st.mode & 0o777, uid: 0, gid: 0, access: d.permissions };
}
