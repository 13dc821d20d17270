import assert from "node:assert/strict";
import { MagnetError, type MagnetErrorCode } from "../../src/magnet/index.js";

export const HEX = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";
/** The same 20 bytes in RFC 4648 base32 (computed independently with Python's base64). */
export const B32 = "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK";
/** sha256("tessera"). */
export const HEX64 = "2f1e83d30fff12f10f4a956d08bd6b200ae89e24621c2066c1a902aab2da7acb";

/** Asserts `fn` throws a MagnetError with `code` whose message mentions `mentions`. */
export function throwsMagnet(fn: () => unknown, code: MagnetErrorCode, mentions?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof MagnetError, `expected MagnetError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (mentions !== undefined) assert.ok(e.message.includes(mentions), e.message);
    return true;
  });
}
