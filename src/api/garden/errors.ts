// The core's error codes as Garden's errors (garden's errors.go): a JSON
// body {Type, Message, Handle, ProcessID, Binary} whose Type the Go client
// turns back into ContainerNotFoundError, ProcessNotFoundError and the rest;
// those two are 404, everything else 500, as Garden's server answers.
import { asCoreError } from "../../core/errors.js";

export interface GardenErrorBody {
  Type: string;
  Message: string;
  Handle: string;
  ProcessID: string;
  Binary: string;
}

/** A request Garden's API cannot take (bad JSON, no such route): not the core's. */
export class GardenRequestError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export function gardenError(err: unknown): { status: number; body: GardenErrorBody } {
  const body: GardenErrorBody = { Type: "", Message: "", Handle: "", ProcessID: "", Binary: "" };
  if (err instanceof GardenRequestError) return { status: err.status, body: { ...body, Message: err.message } };
  const e = asCoreError(err);
  body.Message = e.message;
  switch (e.code) {
    case "CONTAINER_NOT_FOUND":
      return { status: 404, body: { ...body, Type: "ContainerNotFoundError", Handle: e.details.handle ?? "", Message: `unknown handle: ${e.details.handle ?? ""}` } };
    case "PROCESS_NOT_FOUND":
      return { status: 404, body: { ...body, Type: "ProcessNotFoundError", ProcessID: e.details.processId ?? "", Message: `unknown process: ${e.details.processId ?? ""}` } };
    case "EXECUTABLE_NOT_FOUND":
      // runc's words, which Garden's clients match on.
      return { status: 500, body: { ...body, Type: "ExecutableNotFoundError", Binary: e.details.path ?? "", Message: `exec: "${e.details.path ?? ""}": executable file not found in $PATH` } };
    case "HANDLE_TAKEN":
      return { status: 500, body: { ...body, Message: `Handle '${e.details.handle ?? ""}' already in use` } };
    case "USER_NOT_FOUND":
      // runc's words, as Guardian passes them on.
      return { status: 500, body: { ...body, Message: `${e.message}: no matching entries in passwd file` } };
    case "INVALID_REQUEST":
      // Guardian answers 500 to everything but an unknown handle or process; a client's own mistake is
      // a 400 here (Garden's clients read the body, whatever the status).
      return { status: 400, body };
    case "SHUTTING_DOWN":
      return { status: 500, body: { ...body, Type: "ServiceUnavailableError" } };
    default:
      // A tool's own words help an operator; the client sees them after ours.
      if (e.detail && !e.message.includes(e.detail)) body.Message = `${e.message}: ${e.detail}`;
      return { status: 500, body };
  }
}
