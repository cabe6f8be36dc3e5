// warden: the command-line client, in Warden's grammar.
//
//   warden [--socket PATH] [--trace] [--exit_on_error] [--json]            the warden> prompt
//   warden [--socket PATH] [--json] -- COMMAND --field value ...           one command
//   warden rootfs build [default|debian] [DIR] [--force] [--suite S]        a root filesystem
//   warden [--socket PATH] [--json] image pull|load|ls|rm|prune ...          the daemon's images
//
// Responses print as `field : value` lines (or JSON with --json); `run` is
// Spawn + Stream, with the job's output live and its exit status as ours.
import { homedir } from "node:os";
import { join } from "node:path";
import type { WardenClient } from "../client/client.js";
import { image } from "./image.js";

// The protocol's modules (protobuf) are loaded only by the commands that speak it: `warden image`
// starts in the time node does.

const USAGE = `usage: warden [--socket PATH] [--trace] [--exit_on_error] [--json] [--help] [-- COMMAND ARGS...]
       warden rootfs build [default|debian] [DIR] [--force] [--suite SUITE] [--mirror URL]
       warden [--socket PATH] [--json] image pull|load|ls|rm|prune ...   ('warden image' for more)

Without a command, warden opens the interactive warden> prompt (tab completes commands and flags;
history in ~/.warden-history). 'warden -- help' lists the commands, 'warden -- COMMAND --help' a
command's flags. Flags are the request's field names: --handle h --script "echo hi"; nested with
'.', repeated with [i]:
  warden -- create --bind_mounts[0].src_path /a --bind_mounts[0].dst_path /b --bind_mounts[0].mode RW
  warden -- run --handle h --script 'echo hi' --privileged --rlimits.nofile 1024
`;

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === "rootfs") return rootfs(argv.slice(1));
  const options = { socket: "/tmp/warden.sock", trace: false, exitOnError: false, json: false };
  const dashes = argv.indexOf("--");
  const globals = dashes < 0 ? argv : argv.slice(0, dashes);
  for (let i = 0; i < globals.length; i++) {
    const flag = globals[i];
    if (flag === "--socket" && globals[i + 1] !== undefined) options.socket = globals[++i];
    else if (flag === "--trace") options.trace = true;
    else if (flag === "--exit_on_error") options.exitOnError = true;
    else if (flag === "--json") options.json = true;
    else if (flag === "image" && dashes < 0) {
      return image(globals.slice(i + 1), options.socket, options.json, {
        stdout: (t) => process.stdout.write(t),
        stderr: (t) => process.stderr.write(t),
        tty: process.stderr.isTTY === true,
      });
    }
    else if (flag === "--help" || flag === "-h") {
      process.stdout.write(USAGE);
      return 0;
    } else {
      process.stderr.write(`warden: unknown option ${flag}\n${USAGE}`);
      return 2;
    }
  }
  if (dashes < 0) {
    const { repl } = await import("./repl.js");
    return repl({
      ...options,
      historyFile: process.env.WARDEN_HISTORY ?? join(homedir(), ".warden-history"),
      input: process.stdin,
      output: process.stdout,
      errorOutput: process.stderr,
    });
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
  if (options.trace) process.stdout.write(`+ ${words.join(" ")}\n`);
  const [{ WardenClient }, { execute, UnreachableError }] = await Promise.all([import("../client/client.js"), import("./execute.js")]);
  let client: WardenClient | undefined;
  const connect = async () => {
    try {
      client ??= await WardenClient.connect(options.socket);
      return client;
    } catch (err) {
      throw new UnreachableError(`warden: cannot connect to ${options.socket} (is wardend running?): ${(err as Error).message}`);
    }
  };
  const io = { stdout: (t: string | Uint8Array) => process.stdout.write(t), stderr: (t: string | Uint8Array) => process.stderr.write(t) };
  try {
    return await execute(words, connect, io, { json: options.json });
  } catch (err) {
    process.stderr.write(`${err instanceof UnreachableError ? err.message : `warden: ${(err as Error).message}`}\n`);
    return 1;
  } finally {
    client?.close();
  }
}

// `warden rootfs build [default|debian] [DIR] ...`: the default goes where wardend looks for it.
async function rootfs(argv: string[]): Promise<number> {
  if (argv[0] !== "build") {
    process.stderr.write("usage: warden rootfs build [default|debian] [DIR] [--force] [--suite SUITE] [--mirror URL]\n");
    return 2;
  }
  const rest = argv.slice(1);
  const kind = rest[0] === "default" || rest[0] === "debian" ? rest.shift()! : "default";
  const hasDir = rest[0] !== undefined && !rest[0].startsWith("--");
  const dir = hasDir ? rest.shift()! : kind === "default" ? "/var/lib/warden/rootfs" : "/var/lib/warden/debian";
  const { main: rootfsMain } = await import("../rootfs/cli.js");
  return rootfsMain([kind, dir, ...rest]);
}
