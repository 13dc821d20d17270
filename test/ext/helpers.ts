import assert from "node:assert/strict";
import { ExtError, type ExtErrorCode } from "../../src/ext/index.js";

const enc = new TextEncoder();
/** Bytes of an ASCII/latin1 string (for hand-written bencode). */
export function b(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
export const utf8 = (s: string) => enc.encode(s);

/** Assert `fn` throws an ExtError with `code`. */
export function throwsExt(fn: () => unknown, code: ExtErrorCode): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ExtError, `expected ExtError, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  });
}

/** Run `fn`; anything thrown must be an ExtError. */
export function onlyExtErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof ExtError)) throw e;
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
