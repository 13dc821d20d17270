/**
 * Peer lists from trackers: compact IPv4 (BEP 23), compact IPv6 (BEP 7) and the dictionary form
 * (BEP 3), with addresses nobody can be reached at filtered out.
 * @module
 */
import type { PeerAddress } from "../util/address.js";
import { ipFromBytes, ipToBytes, isDialableIp, unmapIPv4 } from "../util/ip.js";

/** Peers kept from one reply; more than any sane `numwant` (ours is at most 200). */
export const MAX_PEERS_PER_REPLY = 1000;

/** Whether a peer address from a tracker is worth dialling (port 0 never is). */
export function isDialable(ip: Uint8Array, port: number): boolean {
  return port !== 0 && isDialableIp(ip);
}

/** The text form of 4 or 16 address bytes; an IPv4-mapped address is the IPv4 peer it is. */
export function formatIp(ip: Uint8Array): string {
  return ipFromBytes(ip.length === 16 ? (unmapIPv4(ip) ?? ip) : ip) ?? "";
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
export const ipBytes = ipToBytes;
