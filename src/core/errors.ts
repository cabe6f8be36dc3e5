// One error type for everything a client can be told. `message` is the text
// the client sees (Warden's exact text where Warden defined one); `code` is
// stable for programs and logs; `detail` carries what went wrong underneath
// (a runtime's stderr, say) and travels in ErrorResponse.data.

export type ErrorCode =
  | "UNKNOWN_HANDLE"
  | "NO_SUCH_JOB"
  | "HANDLE_TAKEN"
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
  | "RLIMIT_ABOVE_HARD_LIMIT"
  | "COMMAND_FAILED"
  | "UNKNOWN_REQUEST"
  | "DECODE_FAILED"
  | "FRAME_INVALID"
  | "SHUTTING_DOWN"
  | "TOO_MANY_CONNECTIONS"
  | "TOO_MANY_REQUESTS"
  | "INTERNAL";

export class WardenError extends Error {
  readonly code: ErrorCode;
  readonly detail?: string;

  constructor(code: ErrorCode, message: string, detail?: string) {
    super(message);
    this.name = "WardenError";
    this.code = code;
    if (detail !== undefined) this.detail = detail;
  }
}

export const errors = {
  unknownHandle: () => new WardenError("UNKNOWN_HANDLE", "unknown handle"),
  noSuchJob: () => new WardenError("NO_SUCH_JOB", "no such job"),
  handleTaken: (handle: string) =>
    new WardenError("HANDLE_TAKEN", `container with handle: ${handle} already exists.`),
  wrongState: (allowed: readonly string[], current: string) =>
    new WardenError(
      "WRONG_STATE",
      `Container state must be one of '${allowed.join(", ")}', current state is '${current}'`,
    ),
  rootfsNotFound: (path: string) => new WardenError("ROOTFS_NOT_FOUND", `rootfs ${path} not found`),
  bindMountSourceMissing: (path: string) =>
    new WardenError("BIND_MOUNT_SOURCE_MISSING", `Source path for bind mount does not exist: ${path}`),
  invalid: (message: string) => new WardenError("INVALID_REQUEST", message),
  uidPoolEmpty: () => new WardenError("UID_POOL_EMPTY", "Warden::Pool::Uid::NoUidAvailable"),
  portPoolEmpty: () => new WardenError("PORT_POOL_EMPTY", "Warden::Pool::Port::NoPortAvailable"),
  networkUnavailable: (network?: string) =>
    new WardenError("NETWORK_UNAVAILABLE", network ? `Could not acquire network: ${network}` : "Could not acquire network"),
  netOutTargetMissing: () =>
    new WardenError("INVALID_REQUEST", "Please specify network, port, and/or port_range."),
  portRangeInverted: () => new WardenError("INVALID_REQUEST", "Port range maximum must be greater than minimum"),
  hostPortTaken: (port: number) => new WardenError("HOST_PORT_TAKEN", `host port ${port} is already forwarded`),
  spawnFailed: (detail?: string) => new WardenError("SPAWN_FAILED", "iomux-spawn failed", detail),
  commandFailed: (detail?: string) => new WardenError("COMMAND_FAILED", "command exited with failure", detail),
  shuttingDown: () => new WardenError("SHUTTING_DOWN", "server is shutting down"),
  internal: (detail: string) => new WardenError("INTERNAL", `unexpected error: ${detail}`),
  /** Warden's "Failed setting memory limit: …" and its kin, around what the kernel said. */
  limitFailed: (what: string, err: unknown) =>
    new WardenError("LIMIT_FAILED", `Failed ${what}: ${err instanceof Error ? err.message : String(err)}`),
};

/** Any thrown value as a WardenError, keeping Warden's fallback text for the unexpected. */
export function asWardenError(err: unknown): WardenError {
  if (err instanceof WardenError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return errors.internal(detail);
}
