// Who a process runs as. Root and the container user (its uid from the
// pool) are known without looking; any other user is found in the
// container's account files by the runtime.
import type { Container } from "../container/container.js";
import type { ResolvedUser } from "../interfaces/runtime.js";
import { checkUserSpec, ROOT_USER } from "../process/users.js";
import type { ServiceContext } from "./context.js";

export class UserLookup {
  constructor(private readonly ctx: ServiceContext) {}

  /** The users every container has, as the core made them. */
  known(c: Container, spec: string): ResolvedUser | undefined {
    // An image's /etc/group may put root in groups of its own: there root is looked up too.
    if (spec === "root" || spec === "0" || spec === "0:0") return c.image ? undefined : ROOT_USER;
    const name = this.ctx.config.containerUser;
    if (spec === name || spec === String(c.uid) || spec === `${c.uid}:${c.uid}`) {
      return { name, uid: c.uid, gid: c.uid, groups: [], home: `/home/${name}` };
    }
    return undefined;
  }

  /** The user, for what is done as them without a working directory (files). */
  async resolve(c: Container, spec: string): Promise<ResolvedUser> {
    checkUserSpec(spec);
    return this.known(c, spec) ?? this.ctx.deps.runtime.resolveUser(c.id, spec);
  }

  /**
   * The user a process runs as, with its working directory (`dir`, else
   * their home) made when missing, owned by them. A known user's home is
   * there already (the core made it); anything else asks the runtime.
   */
  async resolveForProcess(c: Container, spec: string, dir?: string): Promise<ResolvedUser> {
    checkUserSpec(spec);
    const known = this.known(c, spec);
    if (known && (dir === undefined || dir === known.home)) return known;
    return this.ctx.deps.runtime.resolveUser(c.id, spec, dir === undefined ? {} : { path: dir });
  }
}
