/**
 * A tiny in-process HTTP tracker for tests (BEP 3 announce, BEP 23 compact peers, BEP 7 peers6,
 * BEP 48 scrape). Peers come from a callback plus everyone who announced the same info-hash.
 * @module
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { isIP } from "node:net";
import { type Encodable, encode } from "../../../src/bencode/index.js";
import { LOOPBACK4 } from "./ports.js";
import { DEFAULT_TIMEOUT_MS, type Stoppable, waitUntil } from "./process.js";

export interface TrackerPeer {
  ip: string;
  port: number;
}

export interface Announce {
  /** Info-hash, 40 lowercase hex (20 bytes as sent). */
  infoHash: string;
  peerId: string;
  ip: string;
  port: number;
  event: string;
  left: number | null;
  uploaded: number | null;
  downloaded: number | null;
  /** Raw query string as received. */
  query: string;
  at: number;
}

export interface TestTrackerOptions {
  /** Extra peers handed out for every info-hash (or for the one asked about). */
  peers?: (infoHash: string) => readonly TrackerPeer[];
  /** `interval` in replies, seconds; default 5. */
  interval?: number;
  /** Port on 127.0.0.1; default any. */
  port?: number;
  /** Hand a peer its own address back too; default false. */
  includeSelf?: boolean;
  /** Listen address: default 127.0.0.1; `::1` for an IPv6-only tracker, `::` for both. */
  host?: string;
  /** Host in the URLs; default `host` (bracketed if IPv6), e.g. `localhost`. */
  urlHost?: string;
}

export interface TestTracker extends Stoppable {
  announceUrl: string;
  scrapeUrl: string;
  port: number;
  /** Every announce received, in order. */
  readonly announces: readonly Announce[];
  /** The first announce (past or future) matching `pred`; bounded. */
  waitForAnnounce(pred?: (a: Announce) => boolean, timeoutMs?: number): Promise<Announce>;
}

/** Split a raw query string into byte-valued parameters (info_hash is binary, not UTF-8). */
export function parseRawQuery(query: string): Map<string, Buffer[]> {
  const out = new Map<string, Buffer[]>();
  for (const part of query.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const key = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
    const value = percentDecode(eq < 0 ? "" : part.slice(eq + 1));
    const list = out.get(key) ?? [];
    list.push(value);
    out.set(key, list);
  }
  return out;
}

function percentDecode(s: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c === 0x2b) {
      bytes.push(0x20);
    } else {
      bytes.push(...Buffer.from(s[i]!, "utf8"));
    }
  }
  return Buffer.from(bytes);
}

function compactPeers(peers: readonly TrackerPeer[], family: 4 | 6): Buffer {
  const size = family === 4 ? 6 : 18;
  const out = Buffer.alloc(peers.length * size);
  peers.forEach((p, i) => {
    const o = i * size;
    if (family === 4) {
      p.ip.split(".").forEach((b, j) => {
        out[o + j] = Number(b);
      });
    } else {
      ipv6Bytes(p.ip).copy(out, o);
    }
    out.writeUInt16BE(p.port, o + size - 2);
  });
  return out;
}

function ipv6Bytes(ip: string): Buffer {
  const [head, tail] = ip.includes("::") ? ip.split("::") : [ip, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => {
    out.writeUInt16BE(Number.parseInt(g || "0", 16), i * 2);
  });
  return out;
}

function unmapped(ip: string): string {
  return ip.startsWith("::ffff:") && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

const num = (b: Buffer | undefined) => (b === undefined ? null : Number(b.toString("latin1")));

/** Start the tracker on 127.0.0.1; `announceUrl` is http://127.0.0.1:PORT/announce. */
export async function startTestTracker(opts: TestTrackerOptions = {}): Promise<TestTracker> {
  const interval = opts.interval ?? 5;
  const announces: Announce[] = [];
  // info-hash -> "ip:port" -> peer (with whether it is complete)
  const swarms = new Map<string, Map<string, TrackerPeer & { left: number | null }>>();

  const reply = (res: ServerResponse, value: Encodable) => {
    const body = encode(value);
    res.writeHead(200, { "content-type": "text/plain", "content-length": body.length });
    res.end(body);
  };

  const onAnnounce = (req: IncomingMessage, res: ServerResponse, query: string) => {
    const q = parseRawQuery(query);
    const ih = q.get("info_hash")?.[0];
    const port = num(q.get("port")?.[0]);
    if (ih?.length !== 20 || port === null || !Number.isInteger(port)) {
      reply(res, { "failure reason": "missing or bad info_hash/port" });
      return;
    }
    const infoHash = ih.toString("hex");
    const ipParam = q.get("ip")?.[0]?.toString("utf8");
    const ip = ipParam && isIP(ipParam) ? ipParam : unmapped(req.socket.remoteAddress ?? "");
    const event = q.get("event")?.[0]?.toString("utf8") ?? "";
    const left = num(q.get("left")?.[0]);
    announces.push({
      infoHash,
      peerId: q.get("peer_id")?.[0]?.toString("hex") ?? "",
      ip,
      port,
      event,
      left,
      uploaded: num(q.get("uploaded")?.[0]),
      downloaded: num(q.get("downloaded")?.[0]),
      query,
      at: Date.now(),
    });
    let swarm = swarms.get(infoHash);
    if (!swarm) {
      swarm = new Map();
      swarms.set(infoHash, swarm);
    }
    const self = `${ip}:${port}`;
    if (event === "stopped") swarm.delete(self);
    else swarm.set(self, { ip, port, left });

    const seen = new Set<string>();
    const list: TrackerPeer[] = [];
    for (const p of [...(opts.peers?.(infoHash) ?? []), ...swarm.values()]) {
      const key = `${p.ip}:${p.port}`;
      if (seen.has(key) || (key === self && !opts.includeSelf)) continue;
      seen.add(key);
      list.push({ ip: p.ip, port: p.port });
    }
    const v4 = list.filter((p) => isIP(p.ip) === 4);
    const v6 = list.filter((p) => isIP(p.ip) === 6);
    const members = [...swarm.values()];
    reply(res, {
      interval,
      "min interval": 1,
      complete: members.filter((p) => p.left === 0).length,
      incomplete: members.filter((p) => p.left !== 0).length,
      peers: compactPeers(v4, 4),
      peers6: v6.length > 0 ? compactPeers(v6, 6) : undefined,
    });
  };

  const onScrape = (res: ServerResponse, query: string) => {
    const files = new Map<string, Encodable>();
    const wanted = parseRawQuery(query).get("info_hash") ?? [];
    const hashes = wanted.length > 0 ? wanted.map((b) => b.toString("hex")) : [...swarms.keys()];
    for (const h of hashes) {
      const members = [...(swarms.get(h)?.values() ?? [])];
      files.set(Buffer.from(h, "hex").toString("latin1"), {
        complete: members.filter((p) => p.left === 0).length,
        incomplete: members.filter((p) => p.left !== 0).length,
        downloaded: 0,
      });
    }
    reply(res, { files });
  };

  const server = createServer((req, res) => {
    const url = req.url ?? "/";
    const qi = url.indexOf("?");
    const pathname = qi < 0 ? url : url.slice(0, qi);
    const query = qi < 0 ? "" : url.slice(qi + 1);
    try {
      if (pathname === "/announce") onAnnounce(req, res, query);
      else if (pathname === "/scrape") onScrape(res, query);
      else {
        res.writeHead(404);
        res.end();
      }
    } catch (e) {
      reply(res, { "failure reason": `tracker error: ${(e as Error).message}` });
    }
  });
  server.keepAliveTimeout = 1_000;
  const host = opts.host ?? LOOPBACK4;
  server.listen(opts.port ?? 0, host);
  await once(server, "listening");
  server.unref();
  const addr = server.address();
  const port = typeof addr === "object" && addr !== null ? addr.port : 0;

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return stopped;
  };
  const urlHost = opts.urlHost ?? (host.includes(":") ? `[${host === "::" ? "::1" : host}]` : host);
  return {
    announceUrl: `http://${urlHost}:${port}/announce`,
    scrapeUrl: `http://${urlHost}:${port}/scrape`,
    port,
    announces,
    waitForAnnounce: (pred = () => true, timeoutMs = DEFAULT_TIMEOUT_MS) =>
      waitUntil("an announce", () => announces.find(pred), { timeoutMs }).catch((e: Error) => {
        const seen = announces.map((a) => `${a.ip}:${a.port} ${a.event || "-"} ${a.infoHash}`);
        throw new Error(`${e.message}; announces so far: ${seen.join(", ") || "none"}`);
      }),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
