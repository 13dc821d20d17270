import { BencodeError } from "./errors.js";
import { keyBytes } from "./value.js";

/**
 * What {@link encode} accepts: the decoded model plus conveniences for building values in code —
 * strings (encoded as UTF-8), plain objects and Maps as dictionaries. `undefined` entries of a
 * dictionary are left out, so optional fields can be written inline.
 */
export type Encodable =
  | number
  | bigint
  | string
  | Uint8Array
  | readonly Encodable[]
  | ReadonlyMap<string, Encodable | undefined>
  | { readonly [key: string]: Encodable | undefined };

const utf8 = new TextEncoder();

type Item = { kind: "bytes"; bytes: Uint8Array } | { kind: "ascii"; text: string };

/**
 * Encode a value as canonical bencode: dictionary keys sorted by their raw bytes.
 * Map keys and BDict keys are byte strings in latin1 form (as the decoder produces them);
 * plain-object keys are text and are encoded as UTF-8.
 * @throws {BencodeError} `BENCODE_UNENCODABLE` for non-integer numbers, cycles or other types.
 */
export function encode(value: Encodable): Uint8Array {
  const parts: Item[] = [];
  let size = 0;
  const seen = new Set<object>();
  const ascii = (text: string) => {
    parts.push({ kind: "ascii", text });
    size += text.length;
  };
  const bytes = (b: Uint8Array) => {
    ascii(`${b.length}:`);
    parts.push({ kind: "bytes", bytes: b });
    size += b.length;
  };
  const walk = (v: Encodable): void => {
    if (typeof v === "number") {
      if (!Number.isSafeInteger(v)) {
        throw new BencodeError(
          "BENCODE_UNENCODABLE",
          `cannot encode number ${v} (not a safe integer)`,
          -1,
        );
      }
      ascii(`i${v}e`);
    } else if (typeof v === "bigint") {
      ascii(`i${v}e`);
    } else if (typeof v === "string") {
      bytes(utf8.encode(v));
    } else if (v instanceof Uint8Array) {
      bytes(v);
    } else if (typeof v === "object" && v !== null) {
      if (seen.has(v))
        throw new BencodeError("BENCODE_UNENCODABLE", "cannot encode a cyclic value", -1);
      seen.add(v);
      if (Array.isArray(v)) {
        ascii("l");
        for (const item of v as readonly Encodable[]) walk(item);
        ascii("e");
      } else {
        const entries: [Uint8Array, Encodable][] = [];
        if (v instanceof Map) {
          for (const [k, item] of v as ReadonlyMap<string, Encodable | undefined>) {
            if (item !== undefined) entries.push([keyBytes(k), item]);
          }
        } else {
          for (const k of Object.keys(v)) {
            const item = (v as { readonly [key: string]: Encodable | undefined })[k];
            if (item !== undefined) entries.push([utf8.encode(k), item]);
          }
        }
        entries.sort((a, b) => compareBytes(a[0], b[0]));
        ascii("d");
        for (const [k, item] of entries) {
          bytes(k);
          walk(item);
        }
        ascii("e");
      }
      seen.delete(v);
    } else {
      throw new BencodeError(
        "BENCODE_UNENCODABLE",
        `cannot encode a value of type ${typeof v}`,
        -1,
      );
    }
  };
  walk(value);
  const out = new Uint8Array(size);
  let pos = 0;
  for (const p of parts) {
    if (p.kind === "bytes") {
      out.set(p.bytes, pos);
      pos += p.bytes.length;
    } else {
      for (let i = 0; i < p.text.length; i++) out[pos++] = p.text.charCodeAt(i);
    }
  }
  return out;
}

/** Compare byte strings as unsigned bytes (the order BEP 3 wants for dictionary keys). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}
