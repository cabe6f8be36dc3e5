// Files into and out of a container: host paths (Warden's CopyIn and
// CopyOut) or tar streams (Garden's StreamIn and StreamOut), its paths
// resolved inside it as a user of it.
import type { Readable } from "node:stream";
import type { Container } from "../container/container.js";
import { errors } from "../errors.js";
import type { ResolvedUser } from "../interfaces/runtime.js";
import type { ServiceContext } from "./context.js";
import type { UserLookup } from "./users.js";

/** The host side must be absolute (it is never relative to the daemon's cwd); both must be named. */
function checkCopyPaths(hostPath: string, containerPath: string, hostField: string): void {
  if (!hostPath.startsWith("/")) throw errors.invalid(`${hostField} must be an absolute path on the host: ${hostPath}`);
  if (containerPath === "") throw errors.invalid("the path in the container must not be empty");
  if (hostPath.includes("\0") || containerPath.includes("\0")) throw errors.invalid("a path must not hold a NUL byte");
}

function checkContainerPath(path: string): void {
  if (path === "" || path.includes("\0")) throw errors.invalid("the path in the container must be named, without NUL bytes");
}

export class FilesService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly users: UserLookup,
  ) {}

  private user(c: Container, user: string | undefined): Promise<ResolvedUser> {
    return this.users.resolve(c, user ?? this.ctx.config.containerUser);
  }

  /** Copies a host path into the container, as `user` (default: the container user). */
  async copyIn(c: Container, request: { src: string; dst: string; user?: string }): Promise<void> {
    checkCopyPaths(request.src, request.dst, "src_path");
    const user = await this.user(c, request.user);
    await this.ctx.deps.files.copyIn({ id: c.id, user, src: request.src, dst: request.dst });
    this.ctx.logFor(c).info({ src: request.src, dst: request.dst }, "copied in");
  }

  /** Copies a container path out to the host, owned by root or `owner`. */
  async copyOut(c: Container, request: { src: string; dst: string; owner?: string; user?: string }): Promise<void> {
    checkCopyPaths(request.dst, request.src, "dst_path");
    const user = await this.user(c, request.user);
    await this.ctx.deps.files.copyOut({ id: c.id, user, src: request.src, dst: request.dst, owner: request.owner });
    this.ctx.logFor(c).info({ src: request.src, dst: request.dst }, "copied out");
  }

  async streamIn(c: Container, request: { path: string; user?: string; tar: Readable }): Promise<void> {
    checkContainerPath(request.path);
    const user = await this.users.resolve(c, request.user ?? "root");
    await this.ctx.deps.files.streamIn({ id: c.id, user, path: request.path, tar: request.tar });
    this.ctx.logFor(c).info({ path: request.path }, "streamed in");
  }

  async streamOut(c: Container, request: { path: string; user?: string }): Promise<Readable> {
    checkContainerPath(request.path);
    const user = await this.users.resolve(c, request.user ?? "root");
    return this.ctx.deps.files.streamOut({ id: c.id, user, path: request.path });
  }
}
