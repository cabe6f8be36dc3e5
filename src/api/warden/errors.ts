// The core's error codes in Warden's words (reference §4.14): a Warden
// client sees the texts Warden's server sent.
import type { CoreError } from "../../core/errors.js";

function causeText(err: CoreError): string {
  const cause = err.cause;
  return cause instanceof Error ? cause.message : cause === undefined ? err.message : String(cause);
}

export function wardenMessage(err: CoreError): string {
  const d = err.details;
  switch (err.code) {
    case "CONTAINER_NOT_FOUND":
      return "unknown handle";
    case "PROCESS_NOT_FOUND":
      return "no such job";
    case "HANDLE_TAKEN":
      return `container with handle: ${d.handle} already exists.`;
    case "WRONG_STATE":
      return `Container state must be one of '${(d.allowed ?? []).join(", ")}', current state is '${d.current}'`;
    case "ROOTFS_NOT_FOUND":
      return `rootfs ${d.path} not found`;
    case "BIND_MOUNT_SOURCE_MISSING":
      return `Source path for bind mount does not exist: ${d.path}`;
    case "UID_POOL_EMPTY":
      return "Warden::Pool::Uid::NoUidAvailable";
    case "PORT_POOL_EMPTY":
      return "Warden::Pool::Port::NoPortAvailable";
    case "NETWORK_UNAVAILABLE":
      return d.network ? `Could not acquire network: ${d.network}` : "Could not acquire network";
    case "SPAWN_FAILED":
    case "EXECUTABLE_NOT_FOUND":
      return "iomux-spawn failed";
    case "COMMAND_FAILED":
      return "command exited with failure";
    case "SHUTTING_DOWN":
      return "server is shutting down";
    case "LIMIT_FAILED":
      return `Failed ${d.operation}: ${causeText(err)}`;
    case "DESTROY_FAILED":
      // Warden answered with the error of the step that failed; the first one here.
      return d.failures?.length ? wardenMessage(d.failures[0].error) : "command exited with failure";
    case "INTERNAL":
      return `unexpected error: ${err.message}`;
    default:
      // Our own checks (INVALID_REQUEST and the like): Warden had no words for them.
      return err.message;
  }
}
