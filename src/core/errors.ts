// One error type for every failure the core reports. `code` is stable (for
// programs, logs and front ends), `details` says what it is about in
// structured form, `detail` carries what a tool said underneath (a runtime's
// stderr), and `cause` keeps the error it came from. The message is plain
// English for logs; each front end turns codes into its own API's texts.

export type ErrorCode =
  | "CONTAINER_NOT_FOUND"
  | "PROCESS_NOT_FOUND"
  | "PROPERTY_NOT_FOUND"
  | "HANDLE_TAKEN"
  | "PROCESS_ID_TAKEN"
  | "WRONG_STATE"
  | "ROOTFS_NOT_FOUND"
  | "BIND_MOUNT_SOURCE_MISSING"
  | "INVALID_REQUEST"
  | "UID_POOL_EMPTY"
  | "NETWORK_UNAVAILABLE"
  | "PORT_POOL_EMPTY"
  | "HOST_PORT_TAKEN"
  | "LIMIT_FAILED"
  | "SPAWN_FAILED"
  | "EXECUTABLE_NOT_FOUND"
  | "USER_NOT_FOUND"
  | "RLIMIT_ABOVE_HARD_LIMIT"
  | "COMMAND_FAILED"
  | "DESTROY_FAILED"
  | "IMAGE_NOT_FOUND"
  | "IMAGE_UNAUTHORIZED"
  | "REGISTRY_UNAVAILABLE"
  | "DIGEST_MISMATCH"
  | "IMAGE_INVALID"
  | "IMAGE_IN_USE"
  | "NO_SPACE"
  | "SHUTTING_DOWN"
  | "INTERNAL";

export interface StepFailure {
  step: string;
  error: CoreError;
}

export interface ErrorDetails {
  handle?: string;
  processId?: string;
  key?: string;
  path?: string;
  allowed?: readonly string[];
  current?: string;
  network?: string;
  port?: number;
  /** What was being done when a limit failed ("setting memory limit"). */
  operation?: string;
  user?: string;
  rlimit?: string;
  value?: string;
  hardLimit?: string;
  /** Every step of a destroy that failed. */
  failures?: StepFailure[];
  image?: string;
  registry?: string;
  digest?: string;
}

export class CoreError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;
  readonly detail?: string;

  constructor(code: ErrorCode, message: string, options: { details?: ErrorDetails; detail?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CoreError";
    this.code = code;
    this.details = options.details ?? {};
    if (options.detail !== undefined) this.detail = options.detail;
  }
}

const text = (err: unknown) => (err instanceof Error ? err.message : String(err));

export const errors = {
  containerNotFound: (handle: string) =>
    new CoreError("CONTAINER_NOT_FOUND", `no container with handle ${handle}`, { details: { handle } }),
  processNotFound: (processId: string) =>
    new CoreError("PROCESS_NOT_FOUND", `no process with id ${processId}`, { details: { processId } }),
  propertyNotFound: (handle: string, key: string) =>
    new CoreError("PROPERTY_NOT_FOUND", `container ${handle} has no property ${key}`, { details: { handle, key } }),
  handleTaken: (handle: string) =>
    new CoreError("HANDLE_TAKEN", `a container with handle ${handle} already exists`, { details: { handle } }),
  processIdTaken: (processId: string) =>
    new CoreError("PROCESS_ID_TAKEN", `process id ${processId} is already in use`, { details: { processId } }),
  wrongState: (allowed: readonly string[], current: string) =>
    new CoreError("WRONG_STATE", `the container is ${current}; this needs it ${allowed.join(" or ")}`, {
      details: { allowed, current },
    }),
  rootfsNotFound: (path: string) => new CoreError("ROOTFS_NOT_FOUND", `root filesystem ${path} not found`, { details: { path } }),
  bindMountSourceMissing: (path: string) =>
    new CoreError("BIND_MOUNT_SOURCE_MISSING", `bind mount source ${path} does not exist`, { details: { path } }),
  invalid: (message: string) => new CoreError("INVALID_REQUEST", message),
  uidPoolEmpty: () => new CoreError("UID_POOL_EMPTY", "no uid left in the pool"),
  portPoolEmpty: () => new CoreError("PORT_POOL_EMPTY", "no port left in the pool"),
  networkUnavailable: (network?: string) =>
    new CoreError("NETWORK_UNAVAILABLE", network ? `network ${network} is not available` : "no network left in the pool", {
      details: network ? { network } : {},
    }),
  hostPortTaken: (port: number) =>
    new CoreError("HOST_PORT_TAKEN", `host port ${port} is already forwarded`, { details: { port } }),
  spawnFailed: (detail?: string, cause?: unknown) =>
    new CoreError("SPAWN_FAILED", "the process could not be started", { detail, cause }),
  executableNotFound: (path: string, detail?: string) =>
    new CoreError("EXECUTABLE_NOT_FOUND", `executable ${path} not found`, { details: { path }, detail }),
  userNotFound: (user: string) => new CoreError("USER_NOT_FOUND", `unable to find user ${user}`, { details: { user } }),
  commandFailed: (detail?: string, cause?: unknown) => new CoreError("COMMAND_FAILED", "a command failed", { detail, cause }),
  imageNotFound: (image: string, detail?: string) =>
    new CoreError("IMAGE_NOT_FOUND", `image ${image} not found`, { details: { image }, detail }),
  imageUnauthorized: (image: string, registry: string, detail?: string) =>
    new CoreError("IMAGE_UNAUTHORIZED", `the registry ${registry} refused access to ${image}`, { details: { image, registry }, detail }),
  registryUnavailable: (registry: string, detail?: string, cause?: unknown) =>
    new CoreError("REGISTRY_UNAVAILABLE", `the registry ${registry} cannot be reached${detail ? `: ${detail}` : ""}`, { details: { registry }, detail, cause }),
  digestMismatch: (image: string, digest: string, detail?: string) =>
    new CoreError("DIGEST_MISMATCH", `what the registry sent for ${image} is not ${digest}`, { details: { image, digest }, detail }),
  imageInvalid: (image: string, why: string) => new CoreError("IMAGE_INVALID", `image ${image} cannot be used: ${why}`, { details: { image } }),
  noSpace: (path: string, detail?: string, cause?: unknown) =>
    new CoreError("NO_SPACE", `no space left on the device holding ${path}`, { details: { path }, detail, cause }),
  imageInUse: (image: string, holders: string[]) =>
    new CoreError("IMAGE_IN_USE", `image ${image} is used by ${holders.length} container(s)`, { details: { image }, detail: holders.join(", ") }),
  shuttingDown: () => new CoreError("SHUTTING_DOWN", "the daemon is shutting down"),
  internal: (message: string, cause?: unknown) => new CoreError("INTERNAL", message, { cause }),
  limitFailed: (operation: string, cause: unknown) =>
    new CoreError("LIMIT_FAILED", `${operation} failed: ${text(cause)}`, { details: { operation }, cause }),
  destroyFailed: (handle: string, failures: StepFailure[]) =>
    new CoreError(
      "DESTROY_FAILED",
      `destroying ${handle} failed: ${failures.map((f) => `${f.step}: ${f.error.message}`).join("; ")}`,
      {
        details: { handle, failures },
        detail: failures.map((f) => f.error.detail).filter(Boolean).join(" | ") || undefined,
        cause: new AggregateError(failures.map((f) => f.error)),
      },
    ),
};

/** Any thrown value as a CoreError; what is not one already is a bug or a surprise: INTERNAL. */
export function asCoreError(err: unknown): CoreError {
  if (err instanceof CoreError) return err;
  return errors.internal(text(err), err);
}
