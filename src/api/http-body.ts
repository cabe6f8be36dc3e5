// A request body read whole, up to a bound: both HTTP front ends (Garden's
// and the admin channel) take small JSON bodies and refuse larger ones
// before holding them, each with its own error.
import type { IncomingMessage } from "node:http";

export async function readBody(req: IncomingMessage, max: number, tooLarge: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
