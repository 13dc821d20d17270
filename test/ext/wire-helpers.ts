import { encodeMessage, type WireMessage } from "../../src/wire/index.js";
import { decoder, drain, HANDSHAKE } from "../wire/helpers.js";

export { encodeMessage };

/** Decode wire bytes (after a handshake) with the wire codec, as the peer will. */
export function decodeMessages(bytes: Uint8Array): WireMessage[] {
  const d = decoder();
  d.push(HANDSHAKE);
  d.push(bytes);
  return drain(d).filter((m): m is WireMessage => m.type !== "handshake");
}
