import { randomBytes } from "node:crypto";
import type { PeerId } from "../types.js";
import { VERSION } from "../version.js";

/** Azureus-style client prefix (BEP 20): `-TS` + four version digits + `-`. */
export function clientPrefix(version = VERSION): string {
  const [major = "0", minor = "0", patch = "0"] = version.split(".");
  const digit = (s: string) =>
    Number(s) < 10 ? s : String.fromCharCode(55 + Math.min(Number(s), 35));
  return `-TS${digit(major)}${digit(minor)}${digit(patch)}0-`;
}

/** A fresh peer id: the client prefix and 12 random printable characters. */
export function makePeerId(): PeerId {
  const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const prefix = clientPrefix();
  const out = new Uint8Array(20);
  for (let i = 0; i < prefix.length; i++) out[i] = prefix.charCodeAt(i);
  const rnd = randomBytes(20 - prefix.length);
  for (let i = prefix.length; i < 20; i++)
    out[i] = alphabet.charCodeAt(rnd[i - prefix.length]! % alphabet.length);
  return out as PeerId;
}
