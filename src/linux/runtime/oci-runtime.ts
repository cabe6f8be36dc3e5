// The OCI runtime's command line (crun or runc; the verbs we use are the same).
// Containers are kept under a state root of our own (--root), apart from any
// other user of the same runtime on the host.
import { CommandError, type CommandRunner } from "../command.js";

export type RuntimeName = "crun" | "runc";

export interface OciRuntimeOptions {
  name: RuntimeName;
  path: string;
  stateRoot: string;
}

export class OciRuntimeCli {
  constructor(
    readonly options: OciRuntimeOptions,
    private readonly commands: CommandRunner,
  ) {}

  get path(): string {
    return this.options.path;
  }

  /** Global arguments every invocation needs, for us and for conmon (--runtime-arg). */
  get globalArgs(): string[] {
    return [`--root=${this.options.stateRoot}`];
  }

  async start(id: string): Promise<void> {
    await this.commands.run([this.path, ...this.globalArgs, "start", id], { timeoutMs: 30_000 });
  }

  /** Kills every process and removes the runtime's state; a container already gone is fine. */
  async forceDelete(id: string): Promise<void> {
    try {
      await this.commands.run([this.path, ...this.globalArgs, "delete", "--force", id], { timeoutMs: 30_000 });
    } catch (err) {
      if (err instanceof CommandError && /does not exist|not exist|no such file/i.test(err.stderr)) return;
      throw err;
    }
  }

  /** argv that runs `command` in the container as `uid:gid` in `cwd` (stdio is the caller's). */
  execArgv(id: string, user: { uid: number; gid: number }, cwd: string, env: string[], command: string[]): string[] {
    return [
      this.path,
      ...this.globalArgs,
      "exec",
      "--user",
      `${user.uid}:${user.gid}`,
      "--cwd",
      cwd,
      ...env.flatMap((e) => ["--env", e]),
      id,
      ...command,
    ];
  }

  async list(): Promise<string[]> {
    const { stdout } = await this.commands.run([this.path, ...this.globalArgs, "list", "-q"], { timeoutMs: 30_000 });
    return stdout.split("\n").filter((l) => l !== "");
  }
}
