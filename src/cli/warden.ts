// warden: the command-line client. `warden [--socket PATH] -- COMMAND --field value ...`
// sends one request and prints the response as `field : value` lines.
// `run` is Spawn + Stream, with the job's output live on stdout and stderr
// and its exit status as ours.
import { ServerError, WardenClient } from "../client/client.js";
import { commandNames, encodeRequest, type CommandName, type Requests } from "../protocol/messages.js";
import {
  CommandError,
  commandFor,
  formatResponse,
  missingRequired,
  parseFlags,
  requestType,
  responseType,
  snakeCase,
} from "./grammar.js";

const USAGE = `usage: warden [--socket PATH] -- COMMAND [--field value ...]

commands: ${commandNames().map(snakeCase).join(", ")}
flags are the request's field names: --handle h --script "echo hi"; nested with '.', repeated with [i]:
  create --bind_mounts[0].src_path /a --bind_mounts[0].dst_path /b --bind_mounts[0].mode RW
  run --handle h --script 'echo hi' --privileged --rlimits.nofile 1024
`;

export async function main(argv: string[]): Promise<number> {
  let socket = "/tmp/warden.sock";
  const dashes = argv.indexOf("--");
  const globals = dashes < 0 ? argv : argv.slice(0, dashes);
  for (let i = 0; i < globals.length; i++) {
    const flag = globals[i];
    if (flag === "--socket" && globals[i + 1]) socket = globals[++i];
    else if (flag === "--help" || flag === "-h") {
      process.stdout.write(USAGE);
      return 0;
    } else {
      process.stderr.write(`warden: unknown option ${flag}\n${USAGE}`);
      return 2;
    }
  }
  if (dashes < 0) {
    process.stderr.write(`warden: the interactive mode is not available yet; give a command after --\n${USAGE}`);
    return 2;
  }
  const words = argv.slice(dashes + 1);
  if (words.includes("--")) {
    process.stderr.write("Delimiter: '--' specified multiple times.\n");
    return 2;
  }
  if (words.length === 0) {
    process.stderr.write(USAGE);
    return 2;
  }
  let command: CommandName;
  let request: Record<string, unknown>;
  try {
    command = commandFor(words[0]);
    request = parseFlags(command, words.slice(1));
    const type = requestType(command);
    const missing = missingRequired(type, request);
    if (missing) throw new CommandError(`Missing required flag: '--${missing}'.`);
    const problem = type.verify(request);
    if (problem) throw new CommandError(problem);
    // Check required fields the way the server will, before sending.
    encodeRequest(command, type.fromObject(request) as Partial<Requests[typeof command]>);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  let client: WardenClient;
  try {
    client = await WardenClient.connect(socket);
  } catch (err) {
    process.stderr.write(`warden: cannot connect to ${socket}: ${(err as Error).message}\n`);
    return 1;
  }
  try {
    if (command === "Run") return await runCommand(client, request);
    const typed = requestType(command).fromObject(request) as Partial<Requests[typeof command]>;
    const response = await client.call(command, typed);
    const lines = formatResponse(responseType(command), response);
    if (lines.length > 0) process.stdout.write(`${lines.join("\n")}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`${err instanceof ServerError ? err.message : (err as Error).message}\n`);
    return 1;
  } finally {
    client.close();
  }
}

async function runCommand(client: WardenClient, request: Record<string, unknown>): Promise<number> {
  const spawn = requestType("Spawn").fromObject(request) as Partial<Requests["Spawn"]>;
  const jobId = (await client.call("Spawn", spawn)).job_id;
  let status = 255;
  for await (const frame of client.stream(String(request.handle), jobId)) {
    if (frame.name === "stdout") process.stdout.write(frame.data);
    else if (frame.name === "stderr") process.stderr.write(frame.data);
    if (Object.prototype.hasOwnProperty.call(frame, "exit_status")) status = frame.exit_status;
  }
  return status;
}
