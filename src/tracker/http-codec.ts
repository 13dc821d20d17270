/**
 * HTTP tracker protocol (BEP 3, 7, 23, 48), sans-I/O: announce and scrape URLs from requests,
 * and validated replies from response bodies.
 * @module
 */
import { BDict, BencodeError, type BValue, decode, keyOf } from "../bencode/index.js";
import type { PeerAddress } from "../util/address.js";
import { TrackerError, trackerText } from "./errors.js";
import { ipBytes, isDialable, MAX_PEERS_PER_REPLY, parseCompactPeers } from "./peers.js";
import type { AnnounceRequest, AnnounceResponse, ScrapeCounts } from "./types.js";

/** Bencode tokens allowed in a tracker reply: plenty for thousands of dictionary-form peers. */
const MAX_REPLY_TOKENS = 200_000;
const MAX_REPLY_DEPTH = 8;

/** Percent-encode bytes for a query string: RFC 3986 unreserved characters stay as they are. */
export function percentEncodeBytes(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) {
    const unreserved =
      (b >= 0x30 && b <= 0x39) ||
      (b >= 0x41 && b <= 0x5a) ||
      (b >= 0x61 && b <= 0x7a) ||
      b === 0x2d ||
      b === 0x2e ||
      b === 0x5f ||
      b === 0x7e;
    s += unreserved ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return s;
}

function appendQuery(url: string, query: string): string {
  const hash = url.indexOf("#");
  const base = hash < 0 ? url : url.slice(0, hash);
  const sep = !base.includes("?") ? "?" : base.endsWith("?") || base.endsWith("&") ? "" : "&";
  return `${base}${sep}${query}`;
}

/** The announce URL for `req`; parameters already in `url` (a passkey, say) are kept first. */
export function buildAnnounceUrl(url: string, req: AnnounceRequest): string {
  const q = [
    `info_hash=${percentEncodeBytes(req.infoHash)}`,
    `peer_id=${percentEncodeBytes(req.peerId)}`,
    `port=${req.port}`,
    `uploaded=${Math.max(0, Math.floor(req.uploaded))}`,
    `downloaded=${Math.max(0, Math.floor(req.downloaded))}`,
    `left=${Math.max(0, Math.floor(req.left))}`,
    "corrupt=0",
    `key=${(req.key >>> 0).toString(16).toUpperCase().padStart(8, "0")}`,
  ];
  if (req.event !== "none") q.push(`event=${req.event}`);
  q.push(`numwant=${req.numWant}`, "compact=1", "no_peer_id=1");
  if (req.trackerId !== undefined)
    q.push(`trackerid=${percentEncodeBytes(Buffer.from(req.trackerId, "latin1"))}`);
  return appendQuery(url, q.join("&"));
}

/**
 * The scrape URL of an announce URL (BEP 48): the last path component must start with `announce`,
 * which becomes `scrape`. `undefined` when the tracker has no scrape convention.
 */
export function scrapeUrlOf(announceUrl: string): string | undefined {
  const q = announceUrl.search(/[?#]/);
  const path = q < 0 ? announceUrl : announceUrl.slice(0, q);
  const slash = path.lastIndexOf("/");
  if (slash < 0 || !path.slice(slash + 1).startsWith("announce")) return undefined;
  return `${path.slice(0, slash + 1)}scrape${path.slice(slash + 1 + "announce".length)}${q < 0 ? "" : announceUrl.slice(q)}`;
}

/** The scrape URL for some info-hashes. */
export function buildScrapeUrl(scrapeUrl: string, infoHashes: readonly Uint8Array[]): string {
  return appendQuery(
    scrapeUrl,
    infoHashes.map((h) => `info_hash=${percentEncodeBytes(h)}`).join("&"),
  );
}

function bad(message: string): TrackerError {
  return new TrackerError("TRACKER_BAD_RESPONSE", message);
}

function decodeReply(body: Uint8Array): BDict {
  let v: BValue;
  try {
    v = decode(body, { maxDepth: MAX_REPLY_DEPTH, maxTokens: MAX_REPLY_TOKENS });
  } catch (e) {
    if (e instanceof BencodeError) {
      const start = trackerText(Buffer.from(body.subarray(0, 40)).toString("latin1"));
      throw new TrackerError(
        "TRACKER_BAD_RESPONSE",
        `reply is not bencoded (${e.message}); it starts with "${start}"`,
        { cause: e },
      );
    }
    throw e;
  }
  if (!(v instanceof BDict)) throw bad("reply is not a bencoded dictionary");
  const failure = v.get("failure reason");
  if (failure !== undefined) {
    const text = failure instanceof Uint8Array ? trackerText(failure) : "(not a string)";
    throw new TrackerError("TRACKER_FAILURE", `tracker says: ${text}`);
  }
  return v;
}

/** A non-negative integer field, or undefined when absent; wrong types are errors naming it. */
function count(d: BDict, key: string): number | undefined {
  const v = d.get(key);
  if (v === undefined) return undefined;
  if (typeof v === "bigint") return v < 0n ? err(key) : Number.MAX_SAFE_INTEGER;
  if (typeof v !== "number" || v < 0) return err(key);
  return v;
  function err(k: string): never {
    throw bad(`"${k}" is not a non-negative integer`);
  }
}

function dictPeers(list: BValue[], out: PeerAddress[]): void {
  for (const item of list) {
    if (out.length >= MAX_PEERS_PER_REPLY) return;
    if (!(item instanceof BDict)) continue;
    const ip = item.get("ip");
    const port = item.get("port");
    if (!(ip instanceof Uint8Array) || typeof port !== "number") continue;
    if (!Number.isInteger(port) || port < 1 || port > 65535) continue;
    // Only IP literals: a hostname from a tracker would let it aim our dials at anyone.
    const host = keyOf(ip);
    const bytes = ipBytes(host);
    if (!bytes || !isDialable(bytes, port)) continue;
    out.push({ host: bytes.length === 4 ? host : host.toLowerCase(), port });
  }
}

/** Validate an HTTP announce reply. Throws `TRACKER_FAILURE` for a `failure reason`. */
export function parseAnnounceBody(body: Uint8Array): AnnounceResponse {
  const d = decodeReply(body);
  const out: AnnounceResponse = { peers: [] };
  const interval = count(d, "interval");
  if (interval !== undefined) out.interval = interval;
  const minInterval = count(d, "min interval");
  if (minInterval !== undefined) out.minInterval = minInterval;
  const complete = count(d, "complete");
  if (complete !== undefined) out.complete = complete;
  const incomplete = count(d, "incomplete");
  if (incomplete !== undefined) out.incomplete = incomplete;
  const peers = d.get("peers");
  if (peers instanceof Uint8Array) parseCompactPeers(peers, 6, out.peers);
  else if (Array.isArray(peers)) dictPeers(peers, out.peers);
  else if (peers !== undefined) throw bad(`"peers" is neither a string nor a list`);
  const peers6 = d.get("peers6");
  if (peers6 instanceof Uint8Array) parseCompactPeers(peers6, 18, out.peers);
  else if (Array.isArray(peers6)) dictPeers(peers6, out.peers);
  else if (peers6 !== undefined) throw bad(`"peers6" is neither a string nor a list`);
  const warning = d.get("warning message");
  if (warning instanceof Uint8Array) out.warning = trackerText(warning);
  const trackerId = d.get("tracker id");
  if (trackerId instanceof Uint8Array && trackerId.length <= 256)
    out.trackerId = Buffer.from(trackerId).toString("latin1");
  if (peers === undefined && peers6 === undefined && interval === undefined)
    throw bad(`reply has none of "peers", "peers6" or "interval"`);
  return out;
}

/** Validate an HTTP scrape reply and pick out the counts for `infoHash`. */
export function parseScrapeBody(body: Uint8Array, infoHash: Uint8Array): ScrapeCounts {
  const d = decodeReply(body);
  const files = d.get("files");
  if (!(files instanceof BDict)) throw bad(`scrape reply has no "files" dictionary`);
  const entry = files.get(keyOf(infoHash));
  if (entry === undefined) throw bad("scrape reply does not list this torrent");
  if (!(entry instanceof BDict)) throw bad(`"files" entry is not a dictionary`);
  return {
    complete: count(entry, "complete") ?? 0,
    incomplete: count(entry, "incomplete") ?? 0,
    downloaded: count(entry, "downloaded") ?? 0,
  };
}
