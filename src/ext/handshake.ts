/**
 * The BEP 10 extension handshake (extended message id 0): encode ours, parse theirs.
 *
 * Parsing policy: the payload must be a bencoded dictionary no longer than
 * {@link MAX_EXT_HANDSHAKE_LENGTH} (else {@link ExtError}); every field is then optional and a
 * field with the wrong type or an out-of-range value is ignored and named in
 * {@link ExtHandshake.ignored}, because BEP 10 says unknown things are to be ignored and real
 * clients do send odd values (a negative `reqq`, a 6-byte `yourip`) without meaning harm.
 */
import { BDict, BencodeError, type BValue, decode, encode } from "../bencode/index.js";
import { ipFromBytes, ipToBytes, unmapIPv4 } from "../util/ip.js";
import { ExtError } from "./errors.js";

/**
 * Longest extension handshake accepted, in bytes of bencoded payload. Real handshakes are a few
 * hundred bytes; 64 KiB leaves room for clients that add their own keys and bounds the work.
 */
export const MAX_EXT_HANDSHAKE_LENGTH = 64 * 1024;
/** Most bencode tokens in a handshake (keys and values): far above any real one. */
export const MAX_EXT_HANDSHAKE_TOKENS = 4096;
/** Longest client version (`v`) kept, in UTF-16 code units; the rest is cut. */
export const MAX_CLIENT_NAME_LENGTH = 128;
/** Largest `reqq` believed; larger values are clamped (libtorrent's default is 500). */
export const MAX_REQQ = 65_536;

/** The remote side's extension handshake, type-checked. */
export interface ExtHandshake {
  /**
   * `m`: extension name → the id the sender wants to receive it under, 1..255, or 0 for "disabled"
   * (kept, so a re-sent handshake can switch an extension off). Entries whose value is not an
   * integer in 0..255 are dropped.
   */
  readonly m: ReadonlyMap<string, number>;
  /** `v`: client name and version (UTF-8, lossy, at most {@link MAX_CLIENT_NAME_LENGTH}). */
  readonly client?: string;
  /** `p`: the sender's TCP listen port, 1..65535. */
  readonly port?: number;
  /** `reqq`: requests the sender queues without dropping, ≥ 1, clamped to {@link MAX_REQQ}. */
  readonly reqq?: number;
  /** `yourip`: our address as the sender sees it (IPv4-mapped IPv6 is given as IPv4). */
  readonly yourIp?: string;
  /** `ipv4`: the sender's IPv4 address. */
  readonly ipv4?: string;
  /** `ipv6`: the sender's IPv6 address. */
  readonly ipv6?: string;
  /** `metadata_size` (BEP 9): bytes of the info dictionary, a positive safe integer (not capped here). */
  readonly metadataSize?: number;
  /** `upload_only` (BEP 21): non-zero means the sender will not download (seed or partial seed). */
  readonly uploadOnly?: boolean;
  /** `e` (MSE): the sender prefers encrypted connections. */
  readonly encryption?: boolean;
  /** Keys present with a wrong type or value and therefore ignored (`m.<name>` for `m` entries). */
  readonly ignored: readonly string[];
}

/** What we put in our extension handshake. Every field is optional. */
export interface OurExtHandshake {
  /** Our extension name → id map (see `ExtensionRegistry.localIds`); ids in 0..255. */
  m?: ReadonlyMap<string, number>;
  /** Client name and version, e.g. `Tessera 0.1.0`. */
  client?: string;
  /** Our TCP listen port (send it on outgoing connections; harmless on incoming ones). */
  port?: number;
  /** How many requests we queue per peer without dropping. */
  reqq?: number;
  /** The peer's address as we see it (an IP literal; an IPv4-mapped IPv6 address goes as 4 bytes). */
  yourIp?: string;
  /** Our IPv4 address, if we know one. */
  ipv4?: string;
  /** Our IPv6 address, if we know one. */
  ipv6?: string;
  /** Bytes of our info dictionary, when we have it (BEP 9). */
  metadataSize?: number;
  /** We are a seed or partial seed (BEP 21). */
  uploadOnly?: boolean;
}

/**
 * The bencoded payload of our extension handshake (without the extended-id byte; send it as
 * `{ type: "extended", extId: 0, payload }`).
 * @throws {RangeError} on arguments that are our own bug: an id outside 0..255, a port outside
 *   1..65535, an address that is not an IP literal of the right family.
 */
export function encodeExtHandshake(h: OurExtHandshake): Uint8Array {
  const dict = new Map<string, BValue | Map<string, BValue>>();
  if (h.m !== undefined) {
    const m = new Map<string, BValue>();
    for (const [name, id] of h.m) {
      if (!Number.isInteger(id) || id < 0 || id > 255) {
        throw new RangeError(`extension id ${id} for ${name} outside 0..255`);
      }
      m.set(name, id);
    }
    dict.set("m", m);
  }
  if (h.client !== undefined) dict.set("v", new TextEncoder().encode(h.client));
  if (h.port !== undefined) {
    if (!Number.isInteger(h.port) || h.port < 1 || h.port > 65535) {
      throw new RangeError(`listen port ${h.port} outside 1..65535`);
    }
    dict.set("p", h.port);
  }
  if (h.reqq !== undefined) dict.set("reqq", positiveInt(h.reqq, "reqq"));
  if (h.yourIp !== undefined) {
    let b = ipBytes(h.yourIp, "yourip");
    b = unmapIPv4(b) ?? b;
    dict.set("yourip", b);
  }
  if (h.ipv4 !== undefined) dict.set("ipv4", ipBytes(h.ipv4, "ipv4", 4));
  if (h.ipv6 !== undefined) dict.set("ipv6", ipBytes(h.ipv6, "ipv6", 16));
  if (h.metadataSize !== undefined)
    dict.set("metadata_size", positiveInt(h.metadataSize, "metadata_size"));
  if (h.uploadOnly !== undefined) dict.set("upload_only", h.uploadOnly ? 1 : 0);
  return encode(dict as Map<string, BValue>);
}

function positiveInt(v: number, name: string): number {
  if (!Number.isSafeInteger(v) || v < 1)
    throw new RangeError(`${name} ${v} is not a positive integer`);
  return v;
}

function ipBytes(host: string, name: string, size?: 4 | 16): Uint8Array {
  const b = ipToBytes(host);
  if (b === undefined || (size !== undefined && b.length !== size)) {
    throw new RangeError(
      `${name} "${host}" is not an IP${size === 4 ? "v4" : size === 16 ? "v6" : ""} literal`,
    );
  }
  return b;
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

/**
 * Parse the payload of a peer's extension handshake (the bytes after the extended-id byte 0).
 * @throws {ExtError} `EXT_HANDSHAKE_TOO_LONG`, `EXT_BAD_HANDSHAKE`; never anything else.
 */
export function decodeExtHandshake(payload: Uint8Array): ExtHandshake {
  if (payload.length > MAX_EXT_HANDSHAKE_LENGTH) {
    throw new ExtError(
      "EXT_HANDSHAKE_TOO_LONG",
      `extension handshake of ${payload.length} bytes, over ${MAX_EXT_HANDSHAKE_LENGTH}`,
    );
  }
  let root: BValue;
  try {
    root = decode(payload, { maxTokens: MAX_EXT_HANDSHAKE_TOKENS });
  } catch (e) {
    if (e instanceof BencodeError) {
      throw new ExtError("EXT_BAD_HANDSHAKE", `extension handshake: ${e.message}`, { cause: e });
    }
    throw e;
  }
  if (!(root instanceof BDict)) {
    throw new ExtError("EXT_BAD_HANDSHAKE", "extension handshake is not a dictionary");
  }
  const ignored: string[] = [];
  const out: {
    -readonly [K in keyof ExtHandshake]: ExtHandshake[K];
  } = { m: new Map(), ignored };
  const m = root.get("m");
  if (m instanceof BDict) {
    const map = new Map<string, number>();
    for (const [name, id] of m) {
      if (typeof id === "number" && Number.isInteger(id) && id >= 0 && id <= 255) map.set(name, id);
      else ignored.push(`m.${name}`);
    }
    out.m = map;
  } else if (m !== undefined) {
    ignored.push("m");
  }
  const int = (key: string, ok: (n: number) => boolean): number | undefined => {
    const v = root.get(key);
    if (v === undefined) return undefined;
    if (typeof v === "number" && ok(v)) return v;
    ignored.push(key);
    return undefined;
  };
  const ip = (key: string, sizes: readonly number[], unmap = false): string | undefined => {
    const v = root.get(key);
    if (v === undefined) return undefined;
    if (v instanceof Uint8Array && sizes.includes(v.length)) {
      return ipFromBytes(unmap ? (unmapIPv4(v) ?? v) : v);
    }
    ignored.push(key);
    return undefined;
  };

  const v = root.get("v");
  if (v instanceof Uint8Array) out.client = utf8.decode(v).slice(0, MAX_CLIENT_NAME_LENGTH);
  else if (v !== undefined) ignored.push("v");
  const port = int("p", (n) => n >= 1 && n <= 65535);
  if (port !== undefined) out.port = port;
  const reqq = int("reqq", (n) => n >= 1);
  if (reqq !== undefined) out.reqq = Math.min(reqq, MAX_REQQ);
  const yourIp = ip("yourip", [4, 16], true);
  if (yourIp !== undefined) out.yourIp = yourIp;
  const ipv4 = ip("ipv4", [4]);
  if (ipv4 !== undefined) out.ipv4 = ipv4;
  const ipv6 = ip("ipv6", [16]);
  if (ipv6 !== undefined) out.ipv6 = ipv6;
  const size = int("metadata_size", (n) => n >= 1 && Number.isSafeInteger(n));
  if (size !== undefined) out.metadataSize = size;
  const uploadOnly = int("upload_only", () => true);
  if (uploadOnly !== undefined) out.uploadOnly = uploadOnly !== 0;
  const e = int("e", () => true);
  if (e !== undefined) out.encryption = e !== 0;
  return out;
}
