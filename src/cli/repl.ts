// The interactive `warden> ` prompt: commands and flags as in one-shot mode,
// tab completion of command names and of the command's flags, a history
// kept as a JSON array (Warden's ~/.warden-history), and a connection made
// again when the daemon went away.
import { readFileSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { ConnectionClosedError, WardenClient } from "../client/client.js";
import { commandNames } from "../protocol/messages.js";
import { execute, UnreachableError, type Io } from "./execute.js";
import { commandFor, snakeCase } from "./grammar.js";
import { flagsOf } from "./help.js";
import { splitWords, UnbalancedQuoteError } from "./words.js";

export interface ReplOptions {
  socket: string;
  trace: boolean;
  exitOnError: boolean;
  json: boolean;
  historyFile: string;
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  errorOutput: NodeJS.WritableStream;
}

const HISTORY_SIZE = 1000;

function loadHistory(file: string): string[] {
  try {
    const list = JSON.parse(readFileSync(file, "utf8")) as unknown;
    return Array.isArray(list) ? list.filter((l): l is string => typeof l === "string") : [];
  } catch {
    return [];
  }
}

/** Completes a command name first, then the command's flags; a whole word gets its space, as Readline gave it. */
export function complete(line: string): [string[], string] {
  const [hits, word] = candidates(line);
  return [hits.length === 1 ? [`${hits[0]} `] : hits, word];
}

function candidates(line: string): [string[], string] {
  const words = line.split(/\s+/);
  const last = words[words.length - 1];
  if (words.length <= 1) {
    const names = [...commandNames().map(snakeCase), "help"];
    return [names.filter((n) => n.startsWith(last)), last];
  }
  let flags: string[];
  try {
    flags = flagsOf(commandFor(words[0]));
  } catch {
    return [[], last];
  }
  return [flags.filter((f) => f.startsWith(last)), last];
}

export function repl(options: ReplOptions): Promise<number> {
  const io: Io = { stdout: (t) => options.output.write(t), stderr: (t) => options.errorOutput.write(t) };
  // readline keeps the newest first; the file keeps them in order, as Warden's did.
  const history = loadHistory(options.historyFile).slice(-HISTORY_SIZE).reverse();
  const rl = createInterface({
    input: options.input,
    output: options.output,
    prompt: "warden> ",
    completer: complete,
    history,
    historySize: HISTORY_SIZE,
    removeHistoryDuplicates: false,
  });
  rl.on("history", (lines: string[]) => {
    try {
      writeFileSync(options.historyFile, `${JSON.stringify([...lines].reverse())}\n`);
    } catch {
      // A read-only home must not stop the prompt.
    }
  });

  let client: WardenClient | undefined;
  const connect = async (): Promise<WardenClient> => {
    if (client?.connected) return client;
    try {
      if (client) await client.reconnect();
      else client = await WardenClient.connect(options.socket);
      return client;
    } catch (err) {
      throw new UnreachableError(`cannot connect to ${options.socket} (is wardend running?): ${(err as Error).message}`);
    }
  };

  return new Promise((resolve) => {
    let status = 0;
    let busy = Promise.resolve();
    let closed = false;
    const finish = (code: number) => {
      status = code;
      if (!closed) rl.close();
    };
    rl.on("SIGINT", () => {
      io.stdout("Exiting...\n");
      finish(0);
    });
    // Input ended (Ctrl-D, or the end of piped input): let what was typed finish first.
    rl.on("close", () => {
      closed = true;
      void busy.then(() => {
        client?.close();
        resolve(status);
      });
    });
    rl.on("line", (line) => {
      // Lines typed (or pasted) while a command runs wait their turn.
      busy = busy.then(async () => {
        if (closed && options.exitOnError && status !== 0) return;
        const code = await handleLine(line.trim());
        status = code;
        if (options.exitOnError && code !== 0) finish(code);
        else if (!closed) rl.prompt();
      });
    });

    const handleLine = async (line: string): Promise<number> => {
      if (line === "") return 0;
      if (line === "exit" || line === "quit") {
        finish(0);
        return 0;
      }
      if (options.trace) io.stdout(`+ ${line}\n`);
      let words: string[];
      try {
        words = splitWords(line);
      } catch (err) {
        if (!(err instanceof UnbalancedQuoteError)) throw err;
        io.stderr(`${err.message}\n`);
        return 2;
      }
      for (let attempt = 0; ; attempt++) {
        try {
          return await execute(words, connect, io, { json: options.json });
        } catch (err) {
          if (err instanceof ConnectionClosedError || (err as NodeJS.ErrnoException).code === "EPIPE") {
            if (attempt === 0) {
              io.stderr("Reconnecting...\n");
              continue;
            }
          }
          io.stderr(`${err instanceof UnreachableError ? err.message : (err as Error).message}\n`);
          return 1;
        }
      }
    };

    rl.prompt();
  });
}
