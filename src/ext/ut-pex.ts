/**
 * BEP 11 peer exchange (ut_pex): the message codec and {@link PexState}, the per-connection
 * bookkeeping that turns "who am I connected to now" into rate-limited added/dropped diffs and
 * rate-limits what the peer sends us.
 */
import { BDict, BencodeError, type BValue, decode, encode } from "../bencode/index.js";
import type { PeerAddress } from "../util/address.js";
import { ipFromBytes, ipToBytes, isDialableIp, unmapIPv4 } from "../util/ip.js";
import { ExtError } from "./errors.js";

/** Extension name in the `m` dictionary. */
export const UT_PEX = "ut_pex";

/** Flags of an added contact (BEP 11; libtorrent's values). */
export const PexFlag = {
  /** Prefers encryption (`e` in its extension handshake). */
  encryption: 0x01,
  /** Seed or upload-only (BEP 21). */
  seed: 0x02,
  /** Supports uTP. */
  utp: 0x04,
  /** Announced `ut_holepunch`. */
  holepunch: 0x08,
  /** We connected out to it: it is reachable. */
  reachable: 0x10,
} as const;

/** A contact in an `added` list. `host` is an IPv4 or IPv6 literal. */
export interface PexPeer extends PeerAddress {
  /** Bits of {@link PexFlag}. */
  readonly flags: number;
}

/** A PEX message: contacts from both families together; the codec splits them. */
export interface PexMessage {
  readonly added: readonly PexPeer[];
  readonly dropped: readonly PeerAddress[];
}

/** A decoded PEX message with the count of contacts left out (invalid, duplicate, over the cap). */
export interface DecodedPex extends PexMessage {
  readonly skipped: number;
}

/** Most added (and, separately, dropped) contacts we send in one message (BEP 11: 50). */
export const MAX_PEX_SEND = 50;
/**
 * Most added (and, separately, dropped) contacts taken from one received message, both families
 * together. BEP 11 allows more than 50 in a first message; beyond this the rest is skipped (not
 * an error), which bounds what one peer can feed into our candidate list per message.
 */
export const MAX_PEX_RECEIVE = 100;
/** Minimum time between two PEX messages we send (BEP 11: at most one per minute). */
export const PEX_INTERVAL_MS = 60_000;
/** A PEX message arriving sooner than this after the previous one from that peer is ignored. */
export const PEX_MIN_RECEIVE_INTERVAL_MS = 45_000;
const MAX_TOKENS = 256;

/**
 * Payload of a PEX message.
 * @throws {RangeError} for a host that is not an IP literal or a port outside 1..65535 (our bug).
 */
export function encodePex(msg: PexMessage): Uint8Array {
  const add4: Uint8Array[] = [];
  const add6: Uint8Array[] = [];
  const f4: number[] = [];
  const f6: number[] = [];
  const drop4: Uint8Array[] = [];
  const drop6: Uint8Array[] = [];
  for (const p of msg.added) {
    const c = compact(p);
    (c.length === 6 ? add4 : add6).push(c);
    (c.length === 6 ? f4 : f6).push(p.flags & 0xff);
  }
  for (const p of msg.dropped) {
    const c = compact(p);
    (c.length === 6 ? drop4 : drop6).push(c);
  }
  const dict = new Map<string, BValue>();
  dict.set("added", concat(add4));
  dict.set("added.f", Uint8Array.from(f4));
  dict.set("dropped", concat(drop4));
  if (add6.length > 0) {
    dict.set("added6", concat(add6));
    dict.set("added6.f", Uint8Array.from(f6));
  }
  if (drop6.length > 0) dict.set("dropped6", concat(drop6));
  return encode(dict);
}

function compact(p: PeerAddress): Uint8Array {
  const raw = ipToBytes(p.host);
  if (raw === undefined) throw new RangeError(`PEX contact "${p.host}" is not an IP literal`);
  if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) {
    throw new RangeError(`PEX contact port ${p.port} outside 1..65535`);
  }
  const ip = raw.length === 16 ? (unmapIPv4(raw) ?? raw) : raw;
  const out = new Uint8Array(ip.length + 2);
  out.set(ip, 0);
  out[ip.length] = p.port >> 8;
  out[ip.length + 1] = p.port & 0xff;
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Decode a PEX payload. Contacts with port 0 or an undialable address (unspecified, multicast,
 * broadcast/reserved), repeated addresses (an added IP seen already with another port), and
 * contacts past {@link MAX_PEX_RECEIVE} are skipped and counted. `added.f` is used only when it
 * has exactly one byte per contact (otherwise flags read as 0, like libtorrent).
 * @throws {ExtError} `PEX_BAD_MESSAGE`, `PEX_BAD_COMPACT_LENGTH`; never anything else.
 */
export function decodePex(payload: Uint8Array): DecodedPex {
  let root: BValue;
  try {
    root = decode(payload, { maxTokens: MAX_TOKENS, maxDepth: 4 });
  } catch (e) {
    if (e instanceof BencodeError) {
      throw new ExtError("PEX_BAD_MESSAGE", `ut_pex: ${e.message}`, { cause: e });
    }
    throw e;
  }
  if (!(root instanceof BDict)) throw new ExtError("PEX_BAD_MESSAGE", "ut_pex is not a dictionary");
  const bytes = (key: string, unit: number): Uint8Array | undefined => {
    const v = root.get(key);
    if (v === undefined) return undefined;
    if (!(v instanceof Uint8Array)) {
      throw new ExtError("PEX_BAD_MESSAGE", `ut_pex ${key} is not a byte string`);
    }
    if (v.length % unit !== 0) {
      throw new ExtError(
        "PEX_BAD_COMPACT_LENGTH",
        `ut_pex ${key} has ${v.length} bytes, not a multiple of ${unit}`,
      );
    }
    return v;
  };
  const lists = {
    added: bytes("added", 6),
    added6: bytes("added6", 18),
    dropped: bytes("dropped", 6),
    dropped6: bytes("dropped6", 18),
  };
  const flags = (key: string, count: number): Uint8Array | undefined => {
    const v = root.get(key);
    return v instanceof Uint8Array && v.length === count ? v : undefined;
  };
  let skipped = 0;
  const added: PexPeer[] = [];
  const addedHosts = new Set<string>();
  const dropped: PeerAddress[] = [];
  const droppedKeys = new Set<string>();
  const walk = (
    list: Uint8Array | undefined,
    unit: number,
    f: Uint8Array | undefined,
    take: (host: string, port: number, flags: number) => boolean,
  ) => {
    if (list === undefined) return;
    for (let at = 0, i = 0; at < list.length; at += unit, i++) {
      const ip = list.subarray(at, at + unit - 2);
      const port = (list[at + unit - 2]! << 8) | list[at + unit - 1]!;
      if (port === 0 || !isDialableIp(ip)) {
        skipped++;
        continue;
      }
      const host = ipFromBytes(ip.length === 16 ? (unmapIPv4(ip) ?? ip) : ip)!;
      if (!take(host, port, f?.[i] ?? 0)) skipped++;
    }
  };
  const addOne = (host: string, port: number, fl: number): boolean => {
    if (added.length >= MAX_PEX_RECEIVE || addedHosts.has(host)) return false;
    addedHosts.add(host);
    added.push({ host, port, flags: fl });
    return true;
  };
  const dropOne = (host: string, port: number): boolean => {
    const key = `${host}|${port}`;
    if (dropped.length >= MAX_PEX_RECEIVE || droppedKeys.has(key)) return false;
    droppedKeys.add(key);
    dropped.push({ host, port });
    return true;
  };
  walk(lists.added, 6, flags("added.f", (lists.added?.length ?? 0) / 6), addOne);
  walk(lists.added6, 18, flags("added6.f", (lists.added6?.length ?? 0) / 18), addOne);
  walk(lists.dropped, 6, undefined, dropOne);
  walk(lists.dropped6, 18, undefined, dropOne);
  return { added, dropped, skipped };
}

/** Tunables of {@link PexState}. */
export interface PexStateOptions {
  /** Minimum ms between messages we send (default {@link PEX_INTERVAL_MS}). */
  intervalMs?: number;
  /** Most added and most dropped contacts per message we send (default {@link MAX_PEX_SEND}). */
  maxPerMessage?: number;
  /** Incoming messages closer together than this (ms) are ignored (default 45 000). */
  minReceiveIntervalMs?: number;
  /** The remote peer's own address: never sent back to it. */
  remote?: PeerAddress;
}

/** A contact's identity for diffing: its canonical IP text and port. */
function keyOf(p: PeerAddress): string | undefined {
  const raw = ipToBytes(p.host);
  if (raw === undefined) return undefined;
  return `${ipFromBytes(raw.length === 16 ? (unmapIPv4(raw) ?? raw) : raw)}|${p.port}`;
}

/**
 * PEX bookkeeping for one connection. Sending: {@link update} diffs the current connected set
 * against what this peer has been told, at most once per `intervalMs`, at most
 * `maxPerMessage` added and dropped (the rest waits for the next message). Receiving:
 * {@link receive} decodes and drops messages that come too fast.
 */
export class PexState {
  readonly #interval: number;
  readonly #max: number;
  readonly #minReceive: number;
  readonly #remote: string | undefined;
  /** What the remote peer believes we are connected to: key → contact. */
  readonly #told = new Map<string, PexPeer>();
  #lastSent = Number.NEGATIVE_INFINITY;
  #lastReceived = Number.NEGATIVE_INFINITY;

  constructor(options: PexStateOptions = {}) {
    this.#interval = options.intervalMs ?? PEX_INTERVAL_MS;
    this.#max = options.maxPerMessage ?? MAX_PEX_SEND;
    this.#minReceive = options.minReceiveIntervalMs ?? PEX_MIN_RECEIVE_INTERVAL_MS;
    this.#remote = options.remote === undefined ? undefined : keyOf(options.remote);
  }

  /**
   * The PEX payload to send now, or `undefined` (too soon, or nothing changed).
   * @param connected every peer of the torrent we have a completed handshake with, by its
   *   *listen* address (the connect address for outgoing connections, the `p` port of the
   *   extension handshake for incoming ones); hostnames and peers without a known listen port
   *   are to be left out by the caller (non-IP hosts are skipped here).
   */
  update(connected: Iterable<PexPeer>, now: number): Uint8Array | undefined {
    if (now - this.#lastSent < this.#interval) return undefined;
    const current = new Map<string, PexPeer>();
    for (const p of connected) {
      const k = keyOf(p);
      if (k === undefined || k === this.#remote || p.port < 1 || p.port > 65535) continue;
      current.set(k, p);
    }
    const added: PexPeer[] = [];
    const dropped: PeerAddress[] = [];
    for (const [k, p] of current) {
      if (added.length >= this.#max) break;
      if (!this.#told.has(k)) added.push(p);
    }
    for (const [k, p] of this.#told) {
      if (dropped.length >= this.#max) break;
      if (!current.has(k)) dropped.push({ host: p.host, port: p.port });
    }
    if (added.length === 0 && dropped.length === 0) return undefined;
    for (const p of added) this.#told.set(keyOf(p)!, p);
    for (const p of dropped) this.#told.delete(keyOf(p)!);
    this.#lastSent = now;
    return encodePex({ added, dropped });
  }

  /**
   * A PEX message from the peer: the decoded contacts, or `undefined` when it came less than
   * `minReceiveIntervalMs` after the previous accepted one (ignored, not decoded).
   * @throws {ExtError} from {@link decodePex}.
   */
  receive(payload: Uint8Array, now: number): DecodedPex | undefined {
    if (now - this.#lastReceived < this.#minReceive) return undefined;
    this.#lastReceived = now;
    return decodePex(payload);
  }
}
