/**
 * The tracker client: announce and scrape over HTTP(S) and UDP, to each address family a tracker
 * resolves to (BEP 7), with replies validated and every failure a {@link TrackerError}.
 * One per session; it holds the UDP sockets.
 * @module
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { BDict, decode } from "../bencode/index.js";
import type { PeerAddress } from "../util/address.js";
import { TrackerError, trackerText } from "./errors.js";
import { type HttpReply, httpGet } from "./http-client.js";
import {
  buildAnnounceUrl,
  buildScrapeUrl,
  parseAnnounceBody,
  parseScrapeBody,
  scrapeUrlOf,
} from "./http-codec.js";
import type { AnnounceRequest, AnnounceResponse, ScrapeCounts } from "./types.js";
import { UDP_ATTEMPT_TIMEOUTS_MS, type UdpTarget, UdpTrackerTransport } from "./udp-client.js";
import { encodeAnnounce, encodeScrape } from "./udp-codec.js";

/** Deadline of one HTTP announce or scrape. */
export const HTTP_TIMEOUT_MS = 15_000;

export type TrackerLookup = (host: string) => Promise<{ address: string; family: number }[]>;

export interface TrackerClientOptions {
  /** Address families we accept peers on (and so announce over); default both. */
  families?: { ipv4: boolean; ipv6: boolean };
  /** Name resolution (default `dns.lookup` with `all: true`); tests inject their own. */
  lookup?: TrackerLookup;
}

const systemLookup: TrackerLookup = (host) => lookup(host, { all: true });

export interface RequestOptions {
  /** Overall deadline (HTTP) or the total of the UDP attempts; defaults as documented. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface Parsed {
  protocol: "http" | "udp";
  url: URL;
  host: string;
  port: number;
}

/** Validate a tracker URL; `TRACKER_UNSUPPORTED` for anything but http, https and udp. */
export function parseTrackerUrl(url: string): Parsed {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TrackerError("TRACKER_UNSUPPORTED", `not a valid URL: ${trackerText(url)}`);
  }
  const host = u.hostname.replace(/^\[|\]$/g, "");
  if (u.protocol === "http:" || u.protocol === "https:") {
    return {
      protocol: "http",
      url: u,
      host,
      port: Number(u.port || (u.protocol === "https:" ? 443 : 80)),
    };
  }
  if (u.protocol === "udp:") {
    if (!u.port || Number(u.port) === 0)
      throw new TrackerError("TRACKER_UNSUPPORTED", "a udp:// tracker URL needs a port");
    return { protocol: "udp", url: u, host, port: Number(u.port) };
  }
  throw new TrackerError("TRACKER_UNSUPPORTED", `${u.protocol}// trackers are not supported`);
}

/** The first IPv4 and first IPv6 address of `host` (an IP literal is itself). */
async function resolve(
  host: string,
  lookupFn: TrackerLookup,
): Promise<{ address: string; family: 4 | 6 }[]> {
  const fam = isIP(host);
  if (fam === 4 || fam === 6) return [{ address: host, family: fam }];
  let all: { address: string; family: number }[];
  try {
    all = await lookupFn(host);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new TrackerError("TRACKER_NETWORK", `cannot resolve ${trackerText(host)}: ${code}`, {
      cause: e,
    });
  }
  const v4 = all.find((a) => a.family === 4);
  const v6 = all.find((a) => a.family === 6);
  const out: { address: string; family: 4 | 6 }[] = [];
  if (v4) out.push({ address: v4.address, family: 4 });
  if (v6) out.push({ address: v6.address, family: 6 });
  if (out.length === 0)
    throw new TrackerError("TRACKER_NETWORK", `cannot resolve ${trackerText(host)}`);
  return out;
}

function checkHttp(reply: HttpReply): Uint8Array {
  if (reply.status === 200) return reply.body;
  // Trackers often explain a 4xx in a bencoded failure reason: prefer their words.
  try {
    const d = decode(reply.body, { maxDepth: 4, maxTokens: 1000 });
    const reason = d instanceof BDict ? d.get("failure reason") : undefined;
    if (reason instanceof Uint8Array)
      throw new TrackerError("TRACKER_FAILURE", `tracker says: ${trackerText(reason)}`);
  } catch (e) {
    if (e instanceof TrackerError) throw e;
  }
  throw new TrackerError(
    "TRACKER_HTTP_STATUS",
    `HTTP ${reply.status}${reply.statusText ? ` ${trackerText(reply.statusText.slice(0, 60))}` : ""}`,
  );
}

function mergeAnnounces(results: PromiseSettledResult<AnnounceResponse>[]): AnnounceResponse {
  const ok = results.filter(
    (r): r is PromiseFulfilledResult<AnnounceResponse> => r.status === "fulfilled",
  );
  if (ok.length === 0) throw (results[0] as PromiseRejectedResult).reason;
  const first = ok[0]!.value;
  if (ok.length === 1) return first;
  const seen = new Set<string>();
  const peers: PeerAddress[] = [];
  for (const r of ok)
    for (const p of r.value.peers) {
      const k = `${p.host}/${p.port}`;
      if (seen.has(k)) continue;
      seen.add(k);
      peers.push(p);
    }
  return { ...first, peers };
}

export class TrackerClient {
  readonly #udp = new UdpTrackerTransport();
  readonly #families: { ipv4: boolean; ipv6: boolean };
  readonly #lookup: TrackerLookup;

  constructor(o: TrackerClientOptions = {}) {
    this.#families = o.families ?? { ipv4: true, ipv6: true };
    this.#lookup = o.lookup ?? systemLookup;
  }

  /**
   * Addresses to announce to: one per family we listen on (all if none matches). The lookup is
   * bounded by the request's deadline and signal like the rest of the exchange.
   */
  async #targets(
    host: string,
    o: RequestOptions = {},
  ): Promise<{ address: string; family: 4 | 6 }[]> {
    if (o.signal?.aborted) throw new TrackerError("TRACKER_TIMEOUT", "cancelled");
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const ms = o.timeoutMs ?? HTTP_TIMEOUT_MS;
    const all = await Promise.race([
      resolve(host, this.#lookup),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new TrackerError(
                "TRACKER_TIMEOUT",
                `resolving ${trackerText(host)} took over ${ms} ms`,
              ),
            ),
          ms,
        );
        onAbort = () => reject(new TrackerError("TRACKER_TIMEOUT", "cancelled"));
        o.signal?.addEventListener("abort", onAbort);
      }),
    ]).finally(() => {
      clearTimeout(timer);
      if (onAbort) o.signal?.removeEventListener("abort", onAbort);
    });
    const usable = all.filter((a) => (a.family === 4 ? this.#families.ipv4 : this.#families.ipv6));
    return usable.length > 0 ? usable : all.slice(0, 1);
  }

  /** Announce to `url` over every family it resolves to; peers from all replies are merged. */
  async announce(
    url: string,
    req: AnnounceRequest,
    o: RequestOptions = {},
  ): Promise<AnnounceResponse> {
    const p = parseTrackerUrl(url);
    const targets = await this.#targets(p.host, o);
    if (p.protocol === "http") {
      const full = buildAnnounceUrl(url, req);
      const timeoutMs = o.timeoutMs ?? HTTP_TIMEOUT_MS;
      const results = await Promise.allSettled(
        targets.map(async (address) =>
          parseAnnounceBody(
            checkHttp(
              await httpGet(full, {
                timeoutMs,
                address,
                ...(o.signal ? { signal: o.signal } : {}),
              }),
            ),
          ),
        ),
      );
      return mergeAnnounces(results);
    }
    // BEP 41: the path and query go along as URL data.
    const pathQuery = `${p.url.pathname}${p.url.search}`;
    const urlData = pathQuery === "/" || pathQuery === "" ? undefined : Buffer.from(pathQuery);
    const schedule = scheduleFor(o.timeoutMs);
    const results = await Promise.allSettled(
      targets.map(async (t) => {
        const target: UdpTarget = { address: t.address, port: p.port, family: t.family };
        const reply = await this.#udp.exchange(
          target,
          (cid, tid) => encodeAnnounce(cid, tid, req, urlData),
          "announce",
          schedule,
          o.signal,
        );
        if (reply.action !== "announce") throw new Error("unreachable");
        const out: AnnounceResponse = {
          interval: reply.interval,
          peers: reply.peers,
          complete: reply.seeders,
          incomplete: reply.leechers,
        };
        return out;
      }),
    );
    return mergeAnnounces(results);
  }

  /** Scrape one torrent's counts from `url` (an announce URL; BEP 48 derives the scrape URL). */
  async scrape(url: string, infoHash: Uint8Array, o: RequestOptions = {}): Promise<ScrapeCounts> {
    const p = parseTrackerUrl(url);
    if (p.protocol === "http") {
      const s = scrapeUrlOf(url);
      if (!s)
        throw new TrackerError(
          "TRACKER_UNSUPPORTED",
          "the tracker's URL does not end in /announce, so it has no scrape URL (BEP 48)",
        );
      const [address] = await this.#targets(p.host, o);
      const reply = await httpGet(buildScrapeUrl(s, [infoHash]), {
        timeoutMs: o.timeoutMs ?? HTTP_TIMEOUT_MS,
        ...(address ? { address } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
      });
      return parseScrapeBody(checkHttp(reply), infoHash);
    }
    const [t] = await this.#targets(p.host, o);
    const reply = await this.#udp.exchange(
      { address: t!.address, port: p.port, family: t!.family },
      (cid, tid) => encodeScrape(cid, tid, [infoHash]),
      "scrape",
      scheduleFor(o.timeoutMs),
      o.signal,
    );
    if (reply.action !== "scrape") throw new Error("unreachable");
    const e = reply.entries[0];
    if (!e)
      throw new TrackerError(
        "TRACKER_BAD_RESPONSE",
        "UDP scrape reply has no entry for the torrent",
      );
    return e;
  }

  close(): void {
    this.#udp.close();
  }
}

/** A UDP retry schedule fitting in `timeoutMs` (the default schedule when not given). */
function scheduleFor(timeoutMs: number | undefined): number[] {
  if (timeoutMs === undefined) return UDP_ATTEMPT_TIMEOUTS_MS;
  const out: number[] = [];
  let left = timeoutMs;
  for (const t of UDP_ATTEMPT_TIMEOUTS_MS) {
    if (left <= 0) break;
    out.push(Math.min(t, left));
    left -= t;
  }
  return out.length ? out : [timeoutMs];
}
