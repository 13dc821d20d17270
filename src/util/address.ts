/**
 * `host:port` peer addresses as they appear in magnet `x.pe` values, on the command line and in
 * configuration. Pure string handling (no `node:net`) so it runs anywhere and stays easy to test.
 */
import { TesseraError } from "../errors.js";

/** A peer's network address: an IPv4 literal, an IPv6 literal (without brackets) or a hostname. */
export interface PeerAddress {
  host: string;
  port: number;
}

/** Thrown when a `host:port` string cannot be parsed. Code: `ADDRESS_INVALID`. */
export class AddressError extends TesseraError {
  constructor(message: string) {
    super("ADDRESS_INVALID", message);
  }
}

/**
 * Longest input looked at: a hostname is at most 253 characters, so anything far beyond is junk
 * and is rejected before any regular expression runs over it.
 */
export const MAX_ADDRESS_LENGTH = 512;

// Octets without leading zeros: `010` is octal to inet_aton but decimal to others, so refuse it.
const OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4_RE = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
const HEX_GROUP_RE = /^[0-9a-fA-F]{1,4}$/;
// Underscores are not RFC 1123, but they occur in real DNS names and harm nothing here.
const LABEL_RE = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** True for a dotted-quad IPv4 literal such as `192.168.0.1` (no leading zeros). */
export function isIPv4Literal(s: string): boolean {
  return IPV4_RE.test(s);
}

/**
 * True for an IPv6 literal without brackets, e.g. `::1`, `2001:db8::7`, `::ffff:1.2.3.4`.
 * Zone identifiers (`%eth0`) are refused: they mean nothing to a remote peer.
 */
export function isIPv6Literal(s: string): boolean {
  if (s.length < 2 || s.length > 45) return false;
  const gap = s.indexOf("::");
  if (gap !== s.lastIndexOf("::")) return false;
  const head = gap < 0 ? s : s.slice(0, gap);
  const tail = gap < 0 ? "" : s.slice(gap + 2);
  const groups = [...(head === "" ? [] : head.split(":")), ...(tail === "" ? [] : tail.split(":"))];
  let count = 0;
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    // An embedded IPv4 address may only end the literal, and it fills two 16-bit groups.
    if (i === groups.length - 1 && g.includes(".")) {
      if (!isIPv4Literal(g)) return false;
      count += 2;
    } else if (HEX_GROUP_RE.test(g)) {
      count += 1;
    } else {
      return false;
    }
  }
  return gap < 0 ? count === 8 : count <= 7;
}

/** True for a DNS hostname such as `tracker.example.org` or `localhost`. */
export function isHostname(s: string): boolean {
  if (s.length === 0 || s.length > 253) return false;
  const labels = s.split(".");
  if (!labels.every((l) => LABEL_RE.test(l))) return false;
  // An all-numeric last label makes it look like an IP address (`1.2.3.256`, `123`): refuse
  // rather than let a resolver reinterpret it.
  return !/^\d+$/.test(labels[labels.length - 1]!);
}

function parsePort(text: string, input: string): number {
  if (text === "") throw new AddressError(`address "${input}" has no port`);
  if (!/^\d{1,5}$/.test(text)) {
    throw new AddressError(`address "${input}" has a non-numeric port "${text}"`);
  }
  const port = Number(text);
  if (port < 1 || port > 65535) {
    throw new AddressError(`address "${input}" has port ${port}, outside 1-65535`);
  }
  return port;
}

/**
 * Parses `1.2.3.4:6881`, `[::1]:6881` or `host.name:6881`.
 * The returned host never carries brackets.
 *
 * @throws {@link AddressError} on an empty or invalid host, a missing, non-numeric or out-of-range
 *   port, an IPv6 literal without brackets, or any other junk.
 */
export function parseHostPort(s: string): PeerAddress {
  if (typeof s !== "string") throw new AddressError("address must be a string");
  if (s.length > MAX_ADDRESS_LENGTH) {
    throw new AddressError(`address is ${s.length} characters long, over ${MAX_ADDRESS_LENGTH}`);
  }
  // Quote the input only once it is known to be short, so error messages stay bounded.
  if (s.startsWith("[")) {
    const close = s.indexOf("]");
    if (close < 0) throw new AddressError(`address "${s}" has an unterminated "["`);
    const host = s.slice(1, close);
    if (!isIPv6Literal(host)) {
      throw new AddressError(`address "${s}" has an invalid IPv6 literal "${host}"`);
    }
    const rest = s.slice(close + 1);
    if (!rest.startsWith(":")) throw new AddressError(`address "${s}" has no port`);
    return { host, port: parsePort(rest.slice(1), s) };
  }
  const colon = s.lastIndexOf(":");
  if (colon < 0) throw new AddressError(`address "${s}" has no port`);
  const host = s.slice(0, colon);
  if (host === "") throw new AddressError(`address "${s}" has an empty host`);
  if (host.includes(":")) {
    throw new AddressError(`address "${s}": an IPv6 host must be written in brackets, [addr]:port`);
  }
  if (!isIPv4Literal(host) && !isHostname(host)) {
    throw new AddressError(`address "${s}" has an invalid host "${host}"`);
  }
  return { host, port: parsePort(s.slice(colon + 1), s) };
}

/** Formats an address as `host:port`, bracketing IPv6 hosts: `[::1]:6881`. */
export function formatHostPort(a: PeerAddress): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
