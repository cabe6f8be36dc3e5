// The core's error codes as gRPC status codes, the CRI's only error channel:
// the kubelet and critest look at the code (NotFound above all: a missing
// container or sandbox) and show the message to people.
import { status } from "@grpc/grpc-js";
import { asCoreError, type ErrorCode } from "../../core/errors.js";

/** A request the CRI's rules refuse before the core sees it. */
export class CriRequestError extends Error {
  constructor(
    message: string,
    readonly code: status = status.INVALID_ARGUMENT,
  ) {
    super(message);
    this.name = "CriRequestError";
  }
}

const CODES: Partial<Record<ErrorCode, status>> = {
  CONTAINER_NOT_FOUND: status.NOT_FOUND,
  PROCESS_NOT_FOUND: status.NOT_FOUND,
  PROPERTY_NOT_FOUND: status.NOT_FOUND,
  IMAGE_NOT_FOUND: status.NOT_FOUND,
  HANDLE_TAKEN: status.ALREADY_EXISTS,
  PROCESS_ID_TAKEN: status.ALREADY_EXISTS,
  WRONG_STATE: status.FAILED_PRECONDITION,
  HOST_PORT_TAKEN: status.FAILED_PRECONDITION,
  IMAGE_IN_USE: status.FAILED_PRECONDITION,
  INVALID_REQUEST: status.INVALID_ARGUMENT,
  ROOTFS_NOT_FOUND: status.INVALID_ARGUMENT,
  BIND_MOUNT_SOURCE_MISSING: status.INVALID_ARGUMENT,
  USER_NOT_FOUND: status.INVALID_ARGUMENT,
  RLIMIT_ABOVE_HARD_LIMIT: status.INVALID_ARGUMENT,
  EXECUTABLE_NOT_FOUND: status.INVALID_ARGUMENT,
  IMAGE_INVALID: status.INVALID_ARGUMENT,
  UID_POOL_EMPTY: status.RESOURCE_EXHAUSTED,
  PORT_POOL_EMPTY: status.RESOURCE_EXHAUSTED,
  NETWORK_UNAVAILABLE: status.RESOURCE_EXHAUSTED,
  NO_SPACE: status.RESOURCE_EXHAUSTED,
  IMAGE_UNAUTHORIZED: status.PERMISSION_DENIED,
  REGISTRY_UNAVAILABLE: status.UNAVAILABLE,
  SHUTTING_DOWN: status.UNAVAILABLE,
  DIGEST_MISMATCH: status.DATA_LOSS,
  INTERNAL: status.INTERNAL,
};

/** The status and message a failed call answers with; a tool's own words follow ours. */
export function criError(err: unknown): { code: status; details: string } {
  if (err instanceof CriRequestError) return { code: err.code, details: err.message };
  const e = asCoreError(err);
  const details = e.detail && !e.message.includes(e.detail) ? `${e.message}: ${e.detail}` : e.message;
  // A tool that failed (a runtime, a mount) is neither the client's fault nor a bug of ours.
  return { code: CODES[e.code] ?? status.UNKNOWN, details };
}
