// Help in Warden's layout: `help` lists the commands, `COMMAND --help` its
// fields (required, then repeated, then optional) with their types.
import protobuf from "protobufjs";
import { commandNames, type CommandName } from "../protocol/messages.js";
import { requestType, snakeCase } from "./grammar.js";

// Warden's REPL descriptions.
const DESCRIPTIONS: Record<CommandName, string> = {
  CopyIn: "Copy files/directories into the container.",
  CopyOut: "Copy files/directories out of the container.",
  Create: "Create a container, optionally pass options.",
  Destroy: "Shutdown a container.",
  Echo: "Echo a message.",
  Info: "Show metadata for a container.",
  LimitBandwidth: "Set or get the bandwidth limit for the container.",
  LimitCpu: "Set or get the CPU limit for the container.",
  LimitDisk: "Set or get the disk limit for the container.",
  LimitMemory: "Set or get the memory limit for the container.",
  Link: "Do blocking read on results from a job.",
  List: "List containers.",
  NetIn: "Forward port on external interface to container.",
  NetOut: "Allow traffic from the container to address.",
  Ping: "Ping warden.",
  Run: "Short hand for spawn(stream(cmd)) i.e. spawns a command, streams the result.",
  Spawn: "Spawns a command inside a container and returns the job id.",
  Stop: "Stop all processes inside a container.",
  Stream: "Do blocking stream on results from a job.",
};

export function describe(command: CommandName): string {
  return DESCRIPTIONS[command] ?? "";
}

/** The command list: one `\t%-Ns%s` line each, then help. */
export function globalHelp(): string {
  const names = commandNames().map(snakeCase);
  const width = Math.max(...names.map((n) => n.length), 4) + 2;
  const lines = commandNames().map((c) => `\t${snakeCase(c).padEnd(width)}${describe(c)}`);
  lines.push(`\t${"help".padEnd(width)}Show help.`);
  return `${lines.join("\n")}\n\nUse --help with each command for more information.\n`;
}

function typeName(field: protobuf.Field): string {
  field.resolve();
  if (field.resolvedType instanceof protobuf.Enum) return Object.keys(field.resolvedType.values).join("|");
  return field.type;
}

function fieldLines(type: protobuf.Type, indent: string, prefix: string): string[] {
  const ordered = [
    ...type.fieldsArray.filter((f) => f.required),
    ...type.fieldsArray.filter((f) => f.repeated),
    ...type.fieldsArray.filter((f) => !f.required && !f.repeated),
  ];
  const lines: string[] = [];
  for (const field of ordered) {
    field.resolve();
    const flag = `${prefix}${field.name}`;
    const nested = field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
    if (field.repeated) {
      lines.push(`${indent}${flag}[index]  # array`);
      if (nested) lines.push(...fieldLines(nested, `${indent}\t`, "."));
      else lines.push(`${indent}\t<${field.name}> (${typeName(field)})`);
      continue;
    }
    if (nested) {
      lines.push(`${indent}${field.required ? flag : `[${flag}]`}  # ${field.required ? "required" : "optional"}`);
      lines.push(...fieldLines(nested, `${indent}\t`, "."));
      continue;
    }
    const value = field.type === "bool" ? `(bool)` : `<${field.name}> (${typeName(field)})`;
    lines.push(field.required ? `${indent}${flag} ${value}  # required` : `${indent}[${flag} ${value}]  # optional`);
  }
  return lines;
}

export function commandHelp(command: CommandName): string {
  const name = snakeCase(command);
  const fields = fieldLines(requestType(command), "\t", "--");
  const options = fields.length > 0 ? `\n[options] can be one of the following:\n\n${fields.join("\n")}\n` : "";
  return `command: ${name}\ndescription: ${describe(command)}\nusage: ${name}${fields.length > 0 ? " [options]" : ""}\n${options}`;
}

/** Every flag a command takes, for completion: nested fields with '.', repeated ones with [0]. */
export function flagsOf(command: CommandName): string[] {
  const walk = (type: protobuf.Type, prefix: string): string[] =>
    type.fieldsArray.flatMap((field) => {
      field.resolve();
      const flag = `${prefix}${field.name}${field.repeated ? "[0]" : ""}`;
      const nested = field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
      return nested ? walk(nested, `${flag}.`) : [flag];
    });
  return [...walk(requestType(command), "--"), "--help"];
}
