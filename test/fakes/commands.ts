// A CommandRunner that records the argv (and input) it is given and answers
// as a test says, so a Linux adapter's unit test asserts the commands it
// builds without running them. With a delegate, what is not answered runs.
import type { CommandRunner, RunOptions, RunResult } from "../../src/linux/command.js";
import { CommandError } from "../../src/linux/command.js";

export interface RecordedCall {
  argv: string[];
  input?: string;
  options: RunOptions;
}

type Matcher = string | RegExp | ((argv: string[]) => boolean);
type Answer = Partial<RunResult> | Error | ((call: RecordedCall) => Partial<RunResult> | Promise<Partial<RunResult>>);

function matches(matcher: Matcher, argv: string[]): boolean {
  const line = argv.join(" ");
  if (typeof matcher === "string") return line.includes(matcher);
  if (matcher instanceof RegExp) return matcher.test(line);
  return matcher(argv);
}

export class RecordingRunner implements CommandRunner {
  readonly calls: RecordedCall[] = [];
  private readonly answers: Array<{ matcher: Matcher; answer: Answer; once: boolean }> = [];

  constructor(private readonly delegate?: CommandRunner) {}

  /** Answers calls whose command line matches (a substring, a pattern or a test). The last one given wins. */
  on(matcher: Matcher, answer: Answer, options: { once?: boolean } = {}): this {
    this.answers.unshift({ matcher, answer, once: options.once ?? false });
    return this;
  }

  /** Fails matching calls as the tool would, with this exit code and stderr. */
  fail(matcher: Matcher, stderr: string, code = 1, options: { once?: boolean } = {}): this {
    return this.on(matcher, (call) => {
      throw new CommandError(call.argv, code, stderr);
    }, options);
  }

  async run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const call: RecordedCall = {
      argv: [...argv],
      input: options.input === undefined ? undefined : options.input.toString(),
      options,
    };
    this.calls.push(call);
    const index = this.answers.findIndex((a) => matches(a.matcher, call.argv));
    if (index >= 0) {
      const { answer, once } = this.answers[index];
      if (once) this.answers.splice(index, 1);
      if (answer instanceof Error) throw answer;
      const result = typeof answer === "function" ? await answer(call) : answer;
      return { code: 0, stdout: "", stderr: "", ...result };
    }
    if (this.delegate) return this.delegate.run(argv, options);
    return { code: 0, stdout: "", stderr: "" };
  }

  /** The command lines run, each joined by spaces. */
  lines(): string[] {
    return this.calls.map((c) => c.argv.join(" "));
  }
}
