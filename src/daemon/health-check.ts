// Warden's health check: on 127.0.0.1:<port>, any data gets a 200 and the connection closes.
import { createServer, type Server } from "node:net";

export function startHealthCheck(port: number): Promise<Server> {
  const server = createServer((socket) => {
    socket.once("data", () => socket.end("HTTP/1.1 200 OK\r\n"));
    socket.on("error", () => {});
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}
