// Exec and Attach as Kubernetes' remote-command protocol (v4/v5) means them,
// whatever carries the streams (SPDY streams or WebSocket channels): the
// client's stdin and terminal sizes go to the process, its output comes
// back per stream, and the end is one Status on the error stream: Success,
// or Failure with reason NonZeroExitCode and the code as the cause's
// message (client-go parses it from there).

export type OutputName = "stdout" | "stderr";

/** A process the session is tied to (an exec's new one, or an attached container's). */
export interface AttachedProcess {
  /** Output as it comes, then the exit code (undefined for an attach: its end is no exec's result). */
  output(closed: AbortSignal): AsyncGenerator<{ stream: OutputName; data: Buffer }, number | undefined>;
  writeStdin(data: Buffer): Promise<void>;
  closeStdin(): Promise<void>;
  resize(size: { rows: number; columns: number }): Promise<void>;
  /** The client left before the end (an exec's process is killed; an attached container runs on). */
  abandon(): Promise<void>;
}

/** What the transport offers one session. */
export interface CommandChannels {
  /** Absent: the client did not ask for that stream. */
  stdout?: (data: Buffer) => Promise<void>;
  stderr?: (data: Buffer) => Promise<void>;
  /** Aborts when the client goes away. */
  closed: AbortSignal;
  /** Writes the status to the error stream and ends the session. */
  finish(status: Record<string, unknown>): Promise<void>;
}

/** The client's side: what a transport hands on as it arrives, kept in order until the process is there. */
export interface CommandInput {
  stdin(data: Buffer): void;
  stdinEnd(): void;
  resize(data: Buffer): void;
  /** The process started: what came before goes to it first. */
  attach(process: AttachedProcess): void;
}

export function successStatus(): Record<string, unknown> {
  return { metadata: {}, status: "Success" };
}

export function exitStatus(code: number): Record<string, unknown> {
  if (code === 0) return successStatus();
  return {
    metadata: {},
    status: "Failure",
    message: `command terminated with non-zero exit code: exit code ${code}`,
    reason: "NonZeroExitCode",
    details: { causes: [{ reason: "ExitCode", message: String(code) }] },
  };
}

export function failureStatus(message: string): Record<string, unknown> {
  return { metadata: {}, status: "Failure", message, reason: "InternalError", code: 500 };
}

/**
 * The client's input, in order: stdin bytes and its end, and terminal
 * sizes as JSON values one per line (`{"Width":80,"Height":24}`). Input
 * that comes before the process is attached waits for it.
 */
export function commandInput(onError: (err: unknown) => void): CommandInput {
  let attach: (process: AttachedProcess) => void = () => {};
  const attached = new Promise<AttachedProcess>((resolve) => (attach = resolve));
  let chain: Promise<void> = Promise.resolve();
  const inTurn = (step: (process: AttachedProcess) => Promise<void>) => {
    chain = chain.then(async () => step(await attached)).catch(onError);
  };
  let sizes = "";
  return {
    attach: (process) => attach(process),
    stdin: (data) => inTurn((process) => process.writeStdin(data)),
    stdinEnd: () => inTurn((process) => process.closeStdin()),
    resize: (data) => {
      sizes += data.toString("utf8");
      if (sizes.length > 64 * 1024) sizes = "";
      const lines = sizes.split("\n");
      sizes = lines.pop() ?? "";
      for (const line of lines) {
        if (!line.trim()) continue;
        let size: { Width?: unknown; Height?: unknown };
        try {
          size = JSON.parse(line) as typeof size;
        } catch {
          continue;
        }
        const columns = Number(size.Width);
        const rows = Number(size.Height);
        if (Number.isInteger(columns) && Number.isInteger(rows) && columns > 0 && rows > 0 && columns <= 65535 && rows <= 65535) {
          inTurn((process) => process.resize({ rows, columns }));
        }
      }
    },
  };
}

/** Pumps the process's output to the client until it ends (status on the error stream) or the client leaves. */
export async function serveRemoteCommand(process: AttachedProcess, channels: CommandChannels): Promise<void> {
  let status: Record<string, unknown>;
  try {
    const output = process.output(channels.closed);
    for (;;) {
      const next = await output.next();
      if (next.done) {
        status = next.value === undefined ? successStatus() : exitStatus(next.value);
        break;
      }
      const write = channels[next.value.stream];
      if (write) await write(next.value.data);
    }
  } catch (err) {
    if (channels.closed.aborted) {
      await process.abandon().catch(() => {});
      return;
    }
    status = failureStatus(err instanceof Error ? err.message : String(err));
  }
  await channels.finish(status);
}
