/**
 * IP addresses as bytes and text, for the compact forms of BEP 10 (`yourip`, `ipv4`, `ipv6`),
 * BEP 11 (PEX), BEP 6 (allowed-fast) and tracker peer lists. Pure string handling, no `node:net`.
 */
import { isIPv4Literal, isIPv6Literal } from "./address.js";

/** Text of a 4-byte (IPv4) or 16-byte (IPv6, RFC 5952 form) address; `undefined` otherwise. */
export function ipFromBytes(bytes: Uint8Array): string | undefined {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length !== 16) return undefined;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // RFC 5952: compress the longest run (≥ 2) of zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(":");
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/**
 * Bytes of an IP literal: 4 for IPv4, 16 for IPv6. A zone (`fe80::1%eth0`, as sockets report
 * link-local peers) is dropped. `undefined` for anything that is not an IP literal.
 */
export function ipToBytes(host: string): Uint8Array | undefined {
  if (isIPv4Literal(host)) return Uint8Array.from(host.split(".").map(Number));
  const zone = host.indexOf("%");
  const text = zone >= 0 ? host.slice(0, zone) : host;
  if (!isIPv6Literal(text)) return undefined;
  const out = new Uint8Array(16);
  const gap = text.indexOf("::");
  const parse = (part: string): number[] => {
    if (part === "") return [];
    const words: number[] = [];
    for (const g of part.split(":")) {
      if (g.includes(".")) {
        const v4 = g.split(".").map(Number);
        words.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        words.push(Number.parseInt(g, 16));
      }
    }
    return words;
  };
  const head = parse(gap < 0 ? text : text.slice(0, gap));
  const tail = gap < 0 ? [] : parse(text.slice(gap + 2));
  const words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i]! >> 8;
    out[2 * i + 1] = words[i]! & 0xff;
  }
  return out;
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), else `undefined`. */
export function unmapIPv4(bytes16: Uint8Array): Uint8Array | undefined {
  if (bytes16.length !== 16) return undefined;
  for (let i = 0; i < 10; i++) if (bytes16[i] !== 0) return undefined;
  if (bytes16[10] !== 0xff || bytes16[11] !== 0xff) return undefined;
  return bytes16.subarray(12, 16);
}

/**
 * Whether an address learned from a peer (PEX) is one we could sensibly dial: not unspecified
 * (`0.0.0.0/8`, `::`), not multicast (`224.0.0.0/4`, `ff00::/8`), not broadcast or reserved
 * (`240.0.0.0/4`, which holds `255.255.255.255`). Loopback and private ranges are allowed: they
 * are legitimate in LAN and loopback swarms, and the caller's connection policy decides.
 */
export function isDialableIp(bytes: Uint8Array): boolean {
  if (bytes.length === 16) {
    const v4 = unmapIPv4(bytes);
    if (v4 !== undefined) return isDialableIp(v4);
    if (bytes[0] === 0xff) return false;
    return bytes.some((b) => b !== 0);
  }
  if (bytes.length !== 4) return false;
  const a = bytes[0]!;
  return a !== 0 && a < 224;
}
