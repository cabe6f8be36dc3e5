// The package's public face: the typed Warden client.
//
//   import { WardenClient, ServerError } from "warden-ts";
//   const client = await WardenClient.connect("/tmp/warden.sock");
export { ConnectionClosedError, ServerError, WardenClient, type Endpoint, type StreamResponse } from "./client.js";
export { AdminClient, AdminError, type ImageSummary, type PulledImage, type PullProgress } from "./admin-client.js";
export { fromLong, toLong, warden, type CommandName, type Requests, type Responses } from "../protocol/messages.js";
