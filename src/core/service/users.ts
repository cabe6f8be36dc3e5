// Who a process runs as. Root and the container user (its uid from the
// pool) are known without looking; any other user is found in the
// container's account files by the runtime. In a container from an image,
// root's groups are the image's: looked up once, then known.
import type { Container } from "../container/container.js";
import type { ResolvedUser } from "../interfaces/runtime.js";
import { checkUserSpec, ROOT_USER } from "../process/users.js";
import type { ServiceContext } from "./context.js";

const isRoot = (spec: string) => spec === "root" || spec === "0" || spec === "0:0";

export class UserLookup {
  /** Root as an image's account files have it, per container, once looked up. */
  private readonly imageRoots = new WeakMap<Container, ResolvedUser>();

  constructor(private readonly ctx: ServiceContext) {}

  /** The users every container has, as the core made them. */
  known(c: Container, spec: string): ResolvedUser | undefined {
    // An image's /etc/group may put root in groups of its own.
    if (isRoot(spec)) return c.image ? this.imageRoots.get(c) : ROOT_USER;
    const name = this.ctx.config.containerUser;
    if (spec === name || spec === String(c.uid) || spec === `${c.uid}:${c.uid}`) {
      return { name, uid: c.uid, gid: c.uid, groups: [], home: `/home/${name}` };
    }
    return undefined;
  }

  /** The user, for what is done as them without a working directory (files). */
  async resolve(c: Container, spec: string): Promise<ResolvedUser> {
    checkUserSpec(spec);
    return this.known(c, spec) ?? this.remember(c, spec, await this.ctx.deps.runtime.resolveUser(c.id, spec));
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
    return this.remember(c, spec, await this.ctx.deps.runtime.resolveUser(c.id, spec, dir === undefined ? {} : { path: dir }));
  }

  private remember(c: Container, spec: string, user: ResolvedUser): ResolvedUser {
    if (c.image && isRoot(spec) && user.uid === 0) this.imageRoots.set(c, user);
    return user;
  }
}
