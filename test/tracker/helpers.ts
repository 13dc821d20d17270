import assert from "node:assert/strict";
import { TrackerError, type TrackerErrorCode } from "../../src/tracker/errors.js";
import type { AnnounceRequest } from "../../src/tracker/types.js";

/** 20 bytes covering reserved, unreserved and high bytes. */
export const INFO_HASH = Uint8Array.from([
  0x00, 0x20, 0x25, 0x26, 0x2b, 0x2d, 0x2e, 0x3d, 0x3f, 0x41, 0x5f, 0x7a, 0x7e, 0x7f, 0x80, 0x9f,
  0xa0, 0xc3, 0xfe, 0xff,
]);
export const PEER_ID = Uint8Array.from(Buffer.from("-TS0001-abcdef/+&=#%", "latin1"));

export function request(over: Partial<AnnounceRequest> = {}): AnnounceRequest {
  return {
    infoHash: INFO_HASH,
    peerId: PEER_ID,
    port: 6881,
    uploaded: 1000,
    downloaded: 2000,
    left: 3000,
    event: "started",
    numWant: 50,
    key: 0x1234abcd,
    ...over,
  };
}

/** Decode a percent-encoded query value to bytes (no `+` rule: trackers' values never use it). */
export function percentDecode(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "%") {
      const h = s.slice(i + 1, i + 3);
      assert.match(h, /^[0-9A-Fa-f]{2}$/, `bad escape at ${i} in ${s}`);
      out.push(Number.parseInt(h, 16));
      i += 2;
    } else {
      const c = s.charCodeAt(i);
      assert.ok(c < 0x80, `raw non-ASCII character in ${s}`);
      out.push(c);
    }
  }
  return Uint8Array.from(out);
}

/** A query string's parameters in order, values left percent-encoded. */
export function rawParams(url: string): [string, string][] {
  const q = url.indexOf("?");
  if (q < 0) return [];
  return url
    .slice(q + 1)
    .split("&")
    .map((kv) => {
      const eq = kv.indexOf("=");
      return eq < 0 ? [kv, ""] : [kv.slice(0, eq), kv.slice(eq + 1)];
    });
}

export function param(url: string, key: string): string | undefined {
  return rawParams(url).find(([k]) => k === key)?.[1];
}

/** Assert `fn` throws (or rejects with) a TrackerError of `code`; returns it. */
export function throwsTracker(fn: () => unknown, code: TrackerErrorCode): TrackerError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof TrackerError, `expected a TrackerError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

export async function rejectsTracker(
  p: Promise<unknown>,
  code: TrackerErrorCode,
): Promise<TrackerError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof TrackerError, `expected a TrackerError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

/** IPv4 compact peer bytes. */
export function compact4(...peers: [string, number][]): Uint8Array {
  const out = new Uint8Array(6 * peers.length);
  peers.forEach(([host, port], i) => {
    out.set(host.split(".").map(Number), 6 * i);
    out[6 * i + 4] = port >> 8;
    out[6 * i + 5] = port & 0xff;
  });
  return out;
}
