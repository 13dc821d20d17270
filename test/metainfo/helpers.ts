import { createHash } from "node:crypto";
import { type Encodable, encode } from "../../src/bencode/index.js";

/** SHA-1 piece hashes of `data` in pieces of `pieceLength`. */
export function pieceHashes(data: Uint8Array, pieceLength: number): Uint8Array {
  const n = Math.ceil(data.length / pieceLength);
  const out = new Uint8Array(n * 20);
  for (let i = 0; i < n; i++) {
    out.set(
      createHash("sha1")
        .update(data.subarray(i * pieceLength, (i + 1) * pieceLength))
        .digest(),
      i * 20,
    );
  }
  return out;
}

/** A valid single-file torrent with `overrides` merged into its info dictionary. */
export function singleFile(
  info: Record<string, Encodable | undefined> = {},
  top: Record<string, Encodable> = {},
): Uint8Array {
  return encode({
    announce: "http://tracker.example/announce",
    ...top,
    info: { name: "a.txt", length: 5, "piece length": 16384, pieces: new Uint8Array(20), ...info },
  });
}

/** A valid multi-file torrent whose files are given as [path, length]. */
export function multiFile(
  files: [Encodable[], number, Record<string, Encodable>?][],
  info: Record<string, Encodable | undefined> = {},
): Uint8Array {
  const total = files.reduce((s, [, l]) => s + l, 0);
  const pl = 16384;
  return encode({
    info: {
      name: "dir",
      "piece length": pl,
      pieces:
        "pieces" in info ? undefined : new Uint8Array(Math.max(1, Math.ceil(total / pl)) * 20),
      files: files.map(([path, length, extra]) => ({ path, length, ...extra })),
      ...info,
    },
  });
}
