/** Magnet URI parsing (BEP 9, BEP 53). */
import { toHex } from "../types.js";
import { formatHostPort, type PeerAddress, parseHostPort } from "../util/address.js";
import { MagnetError } from "./errors.js";
import { parseBtih, parseBtmh } from "./infohash.js";
import { parseSelectOnly } from "./select-only.js";
import { MAX_MAGNET_LENGTH, type MagnetLink } from "./types.js";

const SCHEME_RE = /^magnet:\?/i;
/**
 * List parameters may be numbered (`xt.1`, `tr.2`), as the generic magnet format allows; the
 * number carries no meaning for a single torrent, so it is dropped.
 */
const NUMBERED_RE = /^(xt|tr|ws|x\.pe)\.\d+$/;

/**
 * Percent-decodes a value. `decodeURIComponent` throws a URIError on a malformed escape or on
 * bytes that are not UTF-8; turn that into a MagnetError naming the parameter.
 */
function decode(raw: string, param: string, plusIsSpace: boolean): string {
  const text = plusIsSpace ? raw.replaceAll("+", " ") : raw;
  if (!text.includes("%")) return text;
  try {
    return decodeURIComponent(text);
  } catch (cause) {
    throw new MagnetError(
      "MAGNET_BAD_ENCODING",
      `${param}: malformed percent-encoding (bad escape or not UTF-8)`,
      param,
      { cause },
    );
  }
}

/** Collects the hashes of every `xt`, refusing two different hashes of the same kind. */
function addExactTopic(link: MagnetLink, value: string, param: string, others: string[]): void {
  const lower = value.slice(0, 9).toLowerCase();
  if (lower === "urn:btih:") {
    const hash = parseBtih(value.slice(9), param);
    if (link.infoHashV1 !== undefined && toHex(link.infoHashV1) !== toHex(hash)) {
      throw new MagnetError(
        "MAGNET_CONFLICTING_INFOHASH",
        `${param}: two different urn:btih info-hashes (${toHex(link.infoHashV1)}, ${toHex(hash)})`,
        param,
      );
    }
    link.infoHashV1 = hash;
  } else if (lower === "urn:btmh:") {
    const hash = parseBtmh(value.slice(9), param);
    if (link.infoHashV2 !== undefined && toHex(link.infoHashV2) !== toHex(hash)) {
      throw new MagnetError(
        "MAGNET_CONFLICTING_INFOHASH",
        `${param}: two different urn:btmh info-hashes (${toHex(link.infoHashV2)}, ${toHex(hash)})`,
        param,
      );
    }
    link.infoHashV2 = hash;
  } else {
    // Other exact topics (urn:sha1, urn:ed2k, ...) describe other networks: ignore them but
    // remember their kind in case there is no usable hash at all.
    const kind = /^urn:[^:]{0,16}:/i.exec(value)?.[0] ?? value.slice(0, 16);
    // A handful is enough to explain the error; keep the message short on hostile input.
    if (!others.includes(kind) && others.length < 5) others.push(kind);
  }
}

function addUnique(list: string[], seen: Set<string>, value: string): void {
  if (value === "" || seen.has(value)) return;
  seen.add(value);
  list.push(value);
}

/**
 * Parses a magnet URI.
 *
 * Rules: the `magnet:?` scheme is case-insensitive; values are percent-decoded, with `+` meaning a
 * space in `dn` only (tracker and web-seed URLs may hold a literal `+`); at least one `xt` must
 * carry a `urn:btih:` or `urn:btmh:` hash, and a hybrid magnet keeps both; numbered keys such as
 * `xt.1` are accepted; `tr`, `ws` and `x.pe` keep every occurrence in order minus duplicates;
 * a malformed `x.pe` is skipped; for `dn`, `xl` and `so` the first occurrence wins; an empty `dn`
 * counts as absent; unknown parameters are ignored.
 *
 * @throws {@link MagnetError} whose message names the parameter at fault; see
 *   {@link MagnetErrorCode} for the codes.
 */
export function parseMagnet(uri: string): MagnetLink {
  if (typeof uri !== "string")
    throw new MagnetError("MAGNET_BAD_SCHEME", "magnet URI must be a string");
  if (uri.length > MAX_MAGNET_LENGTH) {
    throw new MagnetError(
      "MAGNET_TOO_LONG",
      `magnet URI is ${uri.length} characters long, over the ${MAX_MAGNET_LENGTH} limit`,
    );
  }
  if (!SCHEME_RE.test(uri)) {
    throw new MagnetError("MAGNET_BAD_SCHEME", 'magnet URI must start with "magnet:?"');
  }

  const link: MagnetLink = { trackers: [], webSeeds: [], peers: [] };
  const seenTrackers = new Set<string>();
  const seenWebSeeds = new Set<string>();
  const seenPeers = new Set<string>();
  const otherTopics: string[] = [];
  let sawXt = false;

  for (const part of uri.slice("magnet:?".length).split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const key = (eq < 0 ? part : part.slice(0, eq)).toLowerCase();
    const raw = eq < 0 ? "" : part.slice(eq + 1);
    const base = NUMBERED_RE.exec(key)?.[1] ?? key;

    switch (base) {
      case "xt":
        sawXt = true;
        addExactTopic(link, decode(raw, key, false), key, otherTopics);
        break;
      case "dn":
        if (link.name === undefined) {
          const name = decode(raw, key, true);
          if (name !== "") link.name = name;
        }
        break;
      case "tr":
        addUnique(link.trackers, seenTrackers, decode(raw, key, false));
        break;
      case "ws":
        addUnique(link.webSeeds, seenWebSeeds, decode(raw, key, false));
        break;
      case "x.pe":
        addPeer(link.peers, seenPeers, decode(raw, key, false));
        break;
      case "so":
        if (link.selectOnly === undefined)
          link.selectOnly = parseSelectOnly(decode(raw, key, false));
        break;
      case "xl":
        if (link.exactLength === undefined)
          link.exactLength = parseExactLength(decode(raw, key, false));
        break;
      default:
        // Unknown parameters (kt, as, xs, x.*, ...) are ignored and not even decoded, so a bad
        // escape in something we do not use cannot reject the link.
        break;
    }
  }

  if (link.infoHashV1 === undefined && link.infoHashV2 === undefined) {
    const why = !sawXt
      ? "has no xt parameter"
      : `has no urn:btih or urn:btmh exact topic (found ${otherTopics.join(", ") || "empty xt"})`;
    throw new MagnetError("MAGNET_NO_INFOHASH", `xt: magnet URI ${why}`, "xt");
  }
  return link;
}

function addPeer(peers: PeerAddress[], seen: Set<string>, value: string): void {
  let peer: PeerAddress;
  try {
    peer = parseHostPort(value);
  } catch {
    // BEP 9 makes x.pe a hint only; a bad one must not cost the user the whole link.
    return;
  }
  const text = formatHostPort(peer);
  if (seen.has(text)) return;
  seen.add(text);
  peers.push(peer);
}

function parseExactLength(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    const shown = value.length > 32 ? `${value.slice(0, 32)}...` : value;
    throw new MagnetError(
      "MAGNET_BAD_EXACT_LENGTH",
      `xl: "${shown}" is not a non-negative integer of at most 2^53-1`,
      "xl",
    );
  }
  return n;
}
