/**
 * Peer lists from trackers: compact IPv4 (BEP 23), compact IPv6 (BEP 7) and the dictionary form
 * (BEP 3), with addresses nobody can be reached at filtered out.
 * @module
 */
import { isIP } from "node:net";
import type { PeerAddress } from "../util/address.js";

/** Peers kept from one reply; more than any sane `numwant` (ours is at most 200). */
export const MAX_PEERS_PER_REPLY = 1000;

/** Whether a peer address from a tracker (or PEX) is worth dialling. */
export function isDialable(ip: Uint8Array, port: number): boolean {
  if (port === 0) return false;
  if (ip.length === 4) {
    const a = ip[0]!;
    // 0.0.0.0/8 (unspecified), 224.0.0.0/4 multicast and 240.0.0.0/4 reserved incl. broadcast.
    return a !== 0 && a < 224;
  }
  if (ip.length === 16) {
    if (ip[0] === 0xff) return false; // multicast
    // An IPv4-mapped address is judged as the IPv4 address it is.
    if (ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff)
      return isDialable(ip.subarray(12), port);
    // :: (unspecified)
    for (let i = 0; i < 16; i++) if (ip[i] !== 0) return true;
    return false;
  }
  return false;
}

/** The text form of 4 or 16 address bytes (IPv6 compressed as RFC 5952 asks). */
export function formatIp(ip: Uint8Array): string {
  if (ip.length === 4) return `${ip[0]}.${ip[1]}.${ip[2]}.${ip[3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((ip[i]! << 8) | ip[i + 1]!);
  // IPv4-mapped addresses are IPv4 peers.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff)
    return `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`;
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

/**
 * Parse compact peers: `width` 6 (IPv4) or 18 (IPv6) bytes each, port big-endian last. A trailing
 * partial entry is ignored, as libtorrent does; undialable entries are dropped.
 */
export function parseCompactPeers(
  bytes: Uint8Array,
  width: 6 | 18,
  out: PeerAddress[] = [],
  max = MAX_PEERS_PER_REPLY,
): PeerAddress[] {
  const ipLen = width - 2;
  for (let off = 0; off + width <= bytes.length && out.length < max; off += width) {
    const ip = bytes.subarray(off, off + ipLen);
    const port = (bytes[off + ipLen]! << 8) | bytes[off + ipLen + 1]!;
    if (!isDialable(ip, port)) continue;
    out.push({ host: formatIp(ip), port });
  }
  return out;
}

/** Parse an IP literal into bytes (`undefined` if it is not one). */
export function ipBytes(host: string): Uint8Array | undefined {
  const fam = isIP(host);
  if (fam === 4) return Uint8Array.from(host.split(".").map(Number));
  if (fam !== 6) return undefined;
  let h = host;
  let tail: number[] = [];
  const last = h.slice(h.lastIndexOf(":") + 1);
  if (last.includes(".")) {
    const four = last.split(".").map(Number);
    tail = [(four[0]! << 8) | four[1]!, (four[2]! << 8) | four[3]!];
    h = `${h.slice(0, h.length - last.length)}0:0`;
  }
  const [head = "", rest] = h.split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const restGroups = rest === undefined || rest === "" ? [] : rest.split(":");
  const fill = 8 - headGroups.length - restGroups.length;
  const groups = [...headGroups, ...new Array<string>(fill).fill("0"), ...restGroups].map((g) =>
    Number.parseInt(g, 16),
  );
  if (tail.length) groups.splice(6, 2, ...tail);
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}
