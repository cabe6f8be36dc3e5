// One CLI command, from its words to its output and exit code, the same for
// `warden -- COMMAND ...` and for a line typed at the REPL.
import type { WardenClient } from "../client/client.js";
import { ServerError } from "../client/client.js";
import { encodeRequest, type CommandName, type Requests } from "../protocol/messages.js";
import { CommandError, commandFor, formatResponse, missingRequired, parseFlags, requestType, responseType } from "./grammar.js";
import { commandHelp, globalHelp } from "./help.js";

export interface Io {
  /** Text, or a job's output as the bytes it wrote. */
  stdout(text: string | Uint8Array): void;
  stderr(text: string | Uint8Array): void;
}

export interface ExecuteOptions {
  /** Print responses as JSON instead of `field : value` lines. */
  json: boolean;
}

/** The daemon could not be reached (as opposed to answering with an error). */
export class UnreachableError extends Error {}

/** Exit codes: 0 done, 1 the server refused, 2 bad command or flags; run gives its job's status. */
export async function execute(
  words: string[],
  client: () => Promise<WardenClient>,
  io: Io,
  options: ExecuteOptions,
): Promise<number> {
  if (words.length === 0) return 0;
  if (words[0] === "help" || words[0] === "--help") {
    io.stdout(globalHelp());
    return 0;
  }
  let command: CommandName;
  let request: Record<string, unknown>;
  try {
    command = commandFor(words[0]);
    if (words.includes("--help")) {
      io.stdout(commandHelp(command));
      return 0;
    }
    request = parseFlags(command, words.slice(1));
    const type = requestType(command);
    const missing = missingRequired(type, request);
    if (missing) throw new CommandError(`Missing required flag: '--${missing}'.`);
    const problem = type.verify(request);
    if (problem) throw new CommandError(problem);
    // Fails here, not at the server, on what the server would refuse to decode.
    encodeRequest(command, type.fromObject(request) as Partial<Requests[typeof command]>);
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    io.stderr(`${err.message}\n`);
    return 2;
  }
  const connection = await client();
  try {
    if (command === "Run" && !options.json) return await runLive(connection, request, io);
    if (command === "Stream") return await streamLive(connection, String(request.handle), Number(request.job_id), io, options.json);
    const typed = requestType(command).fromObject(request) as Partial<Requests[typeof command]>;
    const response = await connection.call(command, typed);
    const type = responseType(command);
    if (options.json) {
      io.stdout(`${JSON.stringify(type.toObject(type.fromObject(response as object), { longs: String, enums: String }))}\n`);
    } else {
      const lines = formatResponse(type, response);
      if (lines.length > 0) io.stdout(`${lines.join("\n")}\n`);
    }
    // Run (as JSON) still answers with its job's status.
    return command === "Run" ? ((response as { exit_status?: number }).exit_status ?? 0) : 0;
  } catch (err) {
    if (!(err instanceof ServerError)) throw err;
    io.stderr(`${err.message}\n`);
    return 1;
  }
}

// Stream answers with many frames: each goes out as it comes (its data, or a
// JSON line each with --json); the job's status is ours.
async function streamLive(client: WardenClient, handle: string, jobId: number, io: Io, json: boolean): Promise<number> {
  const type = responseType("Stream");
  let status = 255;
  for await (const frame of client.stream(handle, jobId)) {
    if (json) io.stdout(`${JSON.stringify(type.toObject(type.fromObject(frame as object), { longs: String, enums: String }))}\n`);
    else if (frame.name === "stdout") io.stdout(frame.data ?? "");
    else if (frame.name === "stderr") io.stderr(frame.data ?? "");
    if (frame.exit_status !== undefined) status = frame.exit_status;
  }
  return status;
}

// Spawn, then Stream: the job's output as it comes, its status as ours.
async function runLive(client: WardenClient, request: Record<string, unknown>, io: Io): Promise<number> {
  const spawn = requestType("Spawn").fromObject(request) as Partial<Requests["Spawn"]>;
  const jobId = (await client.call("Spawn", spawn)).job_id;
  let status = 255;
  for await (const frame of client.stream(String(request.handle), jobId)) {
    if (frame.name === "stdout") io.stdout(frame.data ?? "");
    else if (frame.name === "stderr") io.stderr(frame.data ?? "");
    if (frame.exit_status !== undefined) status = frame.exit_status;
  }
  return status;
}
