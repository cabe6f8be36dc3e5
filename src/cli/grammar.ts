// Warden's command-line grammar: commands are the message types in
// snake_case, flags are the request's field names. `.` reaches into nested
// messages, `[i]` indexes repeated fields, booleans take no value, enums go
// by their constant names. A later flag overwrites an earlier one.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Long from "long";
import protobuf from "protobufjs";
import { commandNames, type CommandName } from "../protocol/messages.js";

export class CommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CommandError";
  }
}

let root: protobuf.Root | undefined;

/** Reflection over our .proto (the static codec carries no field metadata). */
export function protoRoot(): protobuf.Root {
  root ??= new protobuf.Root().loadSync(join(dirname(fileURLToPath(import.meta.url)), "../protocol/warden.proto"), {
    keepCase: true,
  });
  return root;
}

export function snakeCase(name: string): string {
  return name.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

export function commandFor(word: string): CommandName {
  const found = commandNames().find((n) => snakeCase(n) === word);
  if (!found) throw new CommandError(`Command: '${word}' is non-existent.`);
  return found;
}

export function requestType(command: CommandName): protobuf.Type {
  return protoRoot().lookupType(`warden.${command}Request`);
}

export function responseType(command: CommandName): protobuf.Type {
  return protoRoot().lookupType(`warden.${command}Response`);
}

const ELEMENT = /^([a-z_][a-z0-9_]*)(?:\[(\d+)\])?$/;

function convert(field: protobuf.Field, value: string | undefined, flag: string): unknown {
  if (field.type === "bool") {
    if (value === undefined) return true;
    if (value === "true" || value === "false") return value === "true";
    throw new CommandError(`In flag: '${flag}', the value '${value}' is not a boolean.`);
  }
  if (value === undefined) throw new CommandError(`In flag: '${flag}', a value is missing.`);
  if (field.resolvedType instanceof protobuf.Enum) {
    const number = field.resolvedType.values[value];
    if (number === undefined) {
      const names = Object.keys(field.resolvedType.values).join(", ");
      throw new CommandError(`In flag: '${flag}', '${value}' is not one of ${names}.`);
    }
    return number;
  }
  switch (field.type) {
    case "string":
    case "bytes":
      return value;
    case "uint32":
    case "int32": {
      if (!/^-?\d+$/.test(value)) throw new CommandError(`In flag: '${flag}', '${value}' is not an integer.`);
      return Number(value);
    }
    case "uint64":
    case "int64": {
      if (!/^-?\d+$/.test(value)) throw new CommandError(`In flag: '${flag}', '${value}' is not an integer.`);
      return Long.fromString(value, field.type === "uint64");
    }
    default:
      throw new CommandError(`In flag: '${flag}', the field type ${field.type} cannot be given on the command line.`);
  }
}

/** Builds a request object from `--field value` arguments. */
export function parseFlags(command: CommandName, args: string[]): Record<string, unknown> {
  const request: Record<string, unknown> = {};
  const type = requestType(command);
  for (let i = 0; i < args.length; i++) {
    const flag = args[i];
    if (!flag.startsWith("--") || flag.length === 2) throw new CommandError(`Invalid flag: '${flag}'.`);
    const path = flag.slice(2).split(".");
    let message = type;
    let target = request;
    for (let depth = 0; depth < path.length; depth++) {
      const match = ELEMENT.exec(path[depth]);
      if (!match) throw new CommandError(`Invalid flag element: '${path[depth]}'.`);
      const [, name, index] = match;
      const field = message.fields[name];
      if (!field) throw new CommandError(`In flag: '${flag}', the field: '${name}' is invalid.`);
      field.resolve();
      if (field.repeated && index === undefined) throw new CommandError(`In flag: '${flag}', the field: '${name}' is not indexed.`);
      if (!field.repeated && index !== undefined) throw new CommandError(`In flag: '${flag}', the field: '${name}' is not indexed correctly.`);
      const last = depth === path.length - 1;
      const nested = field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
      if (last && nested) throw new CommandError(`In flag: '${flag}', the field: '${name}' is a message; name one of its fields.`);
      if (!last && !nested) throw new CommandError(`In flag: '${flag}', the field: '${name}' has no fields.`);
      if (field.repeated) {
        const list = (target[name] ??= []) as unknown[];
        const at = Number(index);
        if (at > list.length) throw new CommandError(`In flag: '${flag}', the field: '${name}' is not indexed correctly.`);
        if (last) {
          const next = args[i + 1];
          const value = field.type === "bool" || next === undefined || next.startsWith("--") ? undefined : next;
          if (value !== undefined) i++;
          list[at] = convert(field, value, flag);
        } else {
          list[at] ??= {};
          target = list[at] as Record<string, unknown>;
          message = nested!;
        }
      } else if (last) {
        const next = args[i + 1];
        const value = field.type === "bool" || next === undefined || next.startsWith("--") ? undefined : next;
        if (value !== undefined) i++;
        target[name] = convert(field, value, flag);
      } else {
        target = (target[name] ??= {}) as Record<string, unknown>;
        message = nested!;
      }
    }
  }
  return request;
}

/** Names the first required field left out, at any depth. */
export function missingRequired(type: protobuf.Type, message: Record<string, unknown>, prefix = ""): string | undefined {
  for (const field of type.fieldsArray) {
    field.resolve();
    const value = message[field.name];
    if (field.required && value === undefined) return `${prefix}${field.name}`;
    const nested = field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
    if (!nested || value === undefined) continue;
    const items = field.repeated ? (value as Record<string, unknown>[]) : [value as Record<string, unknown>];
    for (let i = 0; i < items.length; i++) {
      const at = field.repeated ? `${prefix}${field.name}[${i}].` : `${prefix}${field.name}.`;
      if (items[i] === undefined) return `${prefix}${field.name}[${i}]`;
      const missing = missingRequired(nested, items[i], at);
      if (missing) return missing;
    }
  }
  return undefined;
}

/** `field : value` lines for every field on the wire, nested fields flattened, repeated ones indexed. */
export function formatResponse(type: protobuf.Type, message: object, prefix = ""): string[] {
  const lines: string[] = [];
  const own = (name: string) => Object.prototype.hasOwnProperty.call(message, name);
  for (const field of type.fieldsArray) {
    field.resolve();
    if (!own(field.name) && !field.required) continue;
    const value = (message as Record<string, unknown>)[field.name];
    const key = `${prefix}${field.name}`;
    const nested = field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
    const render = (v: unknown, k: string) => {
      if (nested) lines.push(...formatResponse(nested, v as object, `${k}.`));
      else if (field.resolvedType instanceof protobuf.Enum) lines.push(`${k} : ${field.resolvedType.valuesById[v as number]}`);
      else lines.push(`${k} : ${String(v)}`);
    };
    if (field.repeated) (value as unknown[]).forEach((v, i) => render(v, `${key}[${i}]`));
    else render(value, key);
  }
  return lines;
}
