import assert from "node:assert/strict";
import dgram from "node:dgram";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import { deflateSync, gzipSync } from "node:zlib";
import { type Encodable, encode } from "../../src/bencode/index.js";
import type { TrackerStatus } from "../../src/tracker/announcer.js";
import { type TrackerClient as TC, TrackerClient } from "../../src/tracker/client.js";
import { MAX_BODY_BYTES, MAX_REDIRECTS } from "../../src/tracker/http-client.js";
import { ipBytes } from "../../src/tracker/peers.js";
import { TorrentTrackers } from "../../src/tracker/torrent-trackers.js";
import {
  compact4,
  INFO_HASH,
  PEER_ID,
  param,
  percentDecode,
  rejectsTracker,
  request,
} from "./helpers.js";

const T = { timeout: 5000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- HTTP

interface HttpTracker {
  port: number;
  url: (path?: string) => string;
  hits: http.IncomingMessage[];
  close: () => Promise<void>;
}

const servers: HttpTracker[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function httpTracker(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  host = "127.0.0.1",
): Promise<HttpTracker> {
  const hits: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req);
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const port = (server.address() as AddressInfo).port;
  const h = host.includes(":") ? `[${host === "::" ? "::1" : host}]` : host;
  let closed = false;
  const t: HttpTracker = {
    port,
    hits,
    url: (path = "/announce") => `http://${h}:${port}${path}`,
    close: async () => {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  servers.push(t);
  return t;
}

const reply = (v: Encodable) => (_req: http.IncomingMessage, res: http.ServerResponse) =>
  res.end(encode(v));

const GOOD = { interval: 1800, peers: compact4(["10.0.0.1", 6881], ["10.0.0.2", 6882]) };

describe("TrackerClient over HTTP", () => {
  const client = new TrackerClient();
  after(() => client.close());

  it("announces with every parameter and returns the validated reply", T, async () => {
    const s = await httpTracker(reply({ ...GOOD, complete: 2, incomplete: 5 }));
    const r = await client.announce(s.url("/announce?passkey=p%2Fq"), request(), {
      timeoutMs: 3000,
    });
    assert.deepEqual(r, {
      interval: 1800,
      peers: [
        { host: "10.0.0.1", port: 6881 },
        { host: "10.0.0.2", port: 6882 },
      ],
      complete: 2,
      incomplete: 5,
    });
    assert.equal(s.hits.length, 1);
    const hit = s.hits[0]!;
    const path = hit.url!;
    assert.ok(path.startsWith("/announce?passkey=p%2Fq&"), path);
    assert.deepEqual(percentDecode(param(path, "info_hash")!), INFO_HASH);
    assert.deepEqual(percentDecode(param(path, "peer_id")!), PEER_ID);
    assert.equal(param(path, "port"), "6881");
    assert.equal(param(path, "left"), "3000");
    assert.equal(param(path, "event"), "started");
    assert.equal(param(path, "compact"), "1");
    assert.equal(param(path, "key"), "1234ABCD");
    assert.equal(hit.method, "GET");
    assert.match(String(hit.headers["user-agent"]), /^Tessera\//);
    assert.match(String(hit.headers["accept-encoding"]), /gzip/);
  });

  it("inflates a gzip or deflate body", T, async () => {
    for (const [enc, z] of [
      ["gzip", gzipSync],
      ["deflate", deflateSync],
    ] as const) {
      const s = await httpTracker((_q, res) => {
        res.writeHead(200, { "content-encoding": enc });
        res.end(z(encode(GOOD)));
      });
      const r = await client.announce(s.url(), request(), { timeoutMs: 3000 });
      assert.equal(r.peers.length, 2, enc);
    }
  });

  it("garbage instead of bencode is TRACKER_BAD_RESPONSE", T, async () => {
    const s = await httpTracker((_q, res) =>
      res.end("<html><body>Welcome to nginx!</body></html>"),
    );
    await rejectsTracker(
      client.announce(s.url(), request(), { timeoutMs: 3000 }),
      "TRACKER_BAD_RESPONSE",
    );
    const g = await httpTracker((_q, res) => {
      res.writeHead(200, { "content-encoding": "gzip" });
      res.end("not gzip at all");
    });
    await rejectsTracker(
      client.announce(g.url(), request(), { timeoutMs: 3000 }),
      "TRACKER_BAD_RESPONSE",
    );
  });

  it("a huge declared content-length is TRACKER_TOO_LARGE at once", T, async () => {
    const s = await httpTracker((_q, res) => {
      res.writeHead(200, { "content-length": String(MAX_BODY_BYTES + 1) });
      res.write("d"); // and never finish
    });
    const t0 = Date.now();
    await rejectsTracker(
      client.announce(s.url(), request(), { timeoutMs: 3000 }),
      "TRACKER_TOO_LARGE",
    );
    assert.ok(Date.now() - t0 < 1500);
  });

  it("an endless chunked body is TRACKER_TOO_LARGE, and the download stops", T, async () => {
    let sent = 0;
    let closed = false;
    const s = await httpTracker((_q, res) => {
      res.writeHead(200); // chunked, no length
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      res.on("close", () => {
        closed = true;
      });
      const pump = () => {
        while (!closed && sent < 50 * MAX_BODY_BYTES) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once("drain", pump);
            return;
          }
        }
      };
      pump();
    });
    const e = await rejectsTracker(
      client.announce(s.url(), request(), { timeoutMs: 4000 }),
      "TRACKER_TOO_LARGE",
    );
    assert.match(e.message, /cap/);
    for (let i = 0; i < 50 && !closed; i++) await sleep(20);
    assert.ok(closed, "the client hung up");
    assert.ok(sent < 10 * MAX_BODY_BYTES, `server managed to send ${sent} bytes`);
  });

  it("a gzip bomb is TRACKER_TOO_LARGE", T, async () => {
    const bomb = gzipSync(Buffer.alloc(8 * MAX_BODY_BYTES), { level: 9 });
    assert.ok(bomb.length < MAX_BODY_BYTES / 10);
    const s = await httpTracker((_q, res) => {
      res.writeHead(200, { "content-encoding": "gzip", "content-length": bomb.length });
      res.end(bomb);
    });
    const e = await rejectsTracker(
      client.announce(s.url(), request(), { timeoutMs: 4000 }),
      "TRACKER_TOO_LARGE",
    );
    assert.match(e.message, /inflates/);
  });

  it("a slow drip (1 byte every 200 ms) times out on the whole-exchange deadline", T, async () => {
    const timers: NodeJS.Timeout[] = [];
    const s = await httpTracker((_q, res) => {
      res.writeHead(200);
      const body = encode(GOOD);
      let i = 0;
      const t = setInterval(() => {
        if (i < body.length) res.write(body.subarray(i, ++i));
      }, 200);
      timers.push(t);
      res.on("close", () => clearInterval(t));
    });
    const t0 = Date.now();
    await rejectsTracker(
      client.announce(s.url(), request(), { timeoutMs: 1000 }),
      "TRACKER_TIMEOUT",
    );
    const took = Date.now() - t0;
    for (const t of timers) clearInterval(t);
    assert.ok(took >= 900 && took < 1500, `took ${took} ms`);
  });

  it("a server that accepts and never answers times out", T, async () => {
    const s = await httpTracker(() => {});
    const t0 = Date.now();
    await rejectsTracker(
      client.announce(s.url(), request(), { timeoutMs: 500 }),
      "TRACKER_TIMEOUT",
    );
    assert.ok(Date.now() - t0 < 1200);
  });

  it("a redirect loop is TRACKER_REDIRECTS after MAX_REDIRECTS hops", T, async () => {
    const s = await httpTracker((req, res) => {
      res.writeHead(302, { location: req.url });
      res.end();
    });
    await rejectsTracker(
      client.announce(s.url(), request(), { timeoutMs: 3000 }),
      "TRACKER_REDIRECTS",
    );
    assert.equal(s.hits.length, MAX_REDIRECTS + 1);
  });

  it("follows one redirect, query and all", T, async () => {
    const s = await httpTracker((req, res) => {
      if (req.url!.startsWith("/announce")) {
        res.writeHead(301, { location: `/real${req.url!.slice("/announce".length)}` });
        res.end();
      } else res.end(encode(GOOD));
    });
    const r = await client.announce(s.url(), request(), { timeoutMs: 3000 });
    assert.equal(r.peers.length, 2);
    assert.equal(s.hits.length, 2);
    assert.ok(s.hits[1]!.url!.startsWith("/real?info_hash="));
    assert.deepEqual(percentDecode(param(s.hits[1]!.url!, "info_hash")!), INFO_HASH);
  });

  it("a redirect to a non-HTTP URL or without Location is refused", T, async () => {
    const s = await httpTracker((req, res) => {
      if (req.url!.startsWith("/ftp")) res.writeHead(302, { location: "ftp://127.0.0.1/x" });
      else if (req.url!.startsWith("/file")) res.writeHead(307, { location: "file:///etc/passwd" });
      else res.writeHead(302);
      res.end();
    });
    await rejectsTracker(
      client.announce(s.url("/ftp"), request(), { timeoutMs: 3000 }),
      "TRACKER_REDIRECTS",
    );
    await rejectsTracker(
      client.announce(s.url("/file"), request(), { timeoutMs: 3000 }),
      "TRACKER_REDIRECTS",
    );
    await rejectsTracker(
      client.announce(s.url("/none"), request(), { timeoutMs: 3000 }),
      "TRACKER_HTTP_STATUS",
    );
  });

  it(
    "HTTP 500 is TRACKER_HTTP_STATUS; a 400 with a failure reason is TRACKER_FAILURE",
    T,
    async () => {
      const s = await httpTracker((req, res) => {
        if (req.url!.startsWith("/500")) {
          res.writeHead(500, "Internal Oops");
          res.end("<h1>500</h1>");
        } else {
          res.writeHead(400);
          res.end(encode({ "failure reason": "unregistered torrent" }));
        }
      });
      const e = await rejectsTracker(
        client.announce(s.url("/500"), request(), { timeoutMs: 3000 }),
        "TRACKER_HTTP_STATUS",
      );
      assert.match(e.message, /HTTP 500 Internal Oops/);
      const f = await rejectsTracker(
        client.announce(s.url("/400"), request(), { timeoutMs: 3000 }),
        "TRACKER_FAILURE",
      );
      assert.match(f.message, /unregistered torrent/);
    },
  );

  it("escapes control characters in a failure reason", T, async () => {
    const s = await httpTracker(reply({ "failure reason": "\x1b[31mbanned\x1b[0m\nForged: line" }));
    const e = await rejectsTracker(
      client.announce(s.url(), request(), { timeoutMs: 3000 }),
      "TRACKER_FAILURE",
    );
    assert.doesNotMatch(e.message, /[\x00-\x1f]/);
    assert.match(e.message, /\\x1b\[31mbanned\\x1b\[0m\\x0aForged: line/);
  });

  it("passes interval 0 and 10^9 through unclamped (the announcer clamps)", T, async () => {
    for (const interval of [0, 10 ** 9]) {
      const s = await httpTracker(reply({ interval, peers: "" }));
      const r = await client.announce(s.url(), request(), { timeoutMs: 3000 });
      assert.equal(r.interval, interval);
    }
  });

  it("TorrentTrackers clamps those intervals and shows a warning", T, async () => {
    const zero = await httpTracker(reply({ interval: 0, peers: compact4(["10.0.0.1", 1]) }));
    const huge = await httpTracker(reply({ interval: 10 ** 9, peers: compact4(["10.0.0.2", 1]) }));
    const seen: TrackerStatus[] = [];
    const tt = new TorrentTrackers({
      tiers: [[zero.url()], [huge.url()]],
      infoHash: INFO_HASH,
      peerId: PEER_ID,
      client,
      port: 6881,
      stats: () => ({ uploaded: 0, downloaded: 0, left: 10, done: false, peers: 50 }),
      onPeers: () => {},
      onStatus: (st) => seen.push(st),
      tickMs: 1_000_000,
    });
    tt.start();
    try {
      for (let i = 0; i < 200 && seen.filter((x) => x.status === "working").length < 2; i++)
        await sleep(10);
      const by = new Map(tt.status().map((x) => [x.url, x]));
      const z = by.get(zero.url())!;
      const h = by.get(huge.url())!;
      assert.equal(z.status, "working");
      assert.equal(z.interval, 60);
      assert.match(z.warning!, /interval 0 s is out of bounds/);
      assert.equal(h.status, "working");
      assert.equal(h.interval, 7200);
      assert.match(h.warning!, /out of bounds/);
    } finally {
      await tt.stop(500);
    }
  });

  it("rejects at once when the signal is aborted mid-request", T, async () => {
    const s = await httpTracker(() => {});
    const ac = new AbortController();
    const p = client.announce(s.url(), request(), { timeoutMs: 3000, signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    const t0 = Date.now();
    await rejectsTracker(p, "TRACKER_TIMEOUT");
    assert.ok(Date.now() - t0 < 1000);
  });

  it("rejects at once when the signal is already aborted", {
    ...T,
  }, async () => {
    const s = await httpTracker(() => {});
    const t0 = Date.now();
    await rejectsTracker(
      client.announce(s.url(), request(), { timeoutMs: 1000, signal: AbortSignal.abort() }),
      "TRACKER_TIMEOUT",
    );
    assert.ok(Date.now() - t0 < 500, `took ${Date.now() - t0} ms`);
    assert.equal(s.hits.length, 0, "no request should be sent");
  });

  it("scrapes over HTTP at the BEP 48 scrape URL", T, async () => {
    const key = Buffer.from(INFO_HASH).toString("latin1");
    const s = await httpTracker(
      reply({ files: new Map([[key, { complete: 4, incomplete: 1, downloaded: 9 }]]) }),
    );
    const r = await client.scrape(s.url("/announce.php?pk=1"), INFO_HASH, { timeoutMs: 3000 });
    assert.deepEqual(r, { complete: 4, incomplete: 1, downloaded: 9 });
    const path = s.hits[0]!.url!;
    assert.ok(path.startsWith("/scrape.php?pk=1&info_hash="), path);
    assert.deepEqual(percentDecode(param(path, "info_hash")!), INFO_HASH);
    await rejectsTracker(client.scrape(s.url("/tracker"), INFO_HASH), "TRACKER_UNSUPPORTED");
    assert.equal(s.hits.length, 1);
  });

  it("scrapes through the injected lookup, like announce", {
    ...T,
  }, async () => {
    const key = Buffer.from(INFO_HASH).toString("latin1");
    const s = await httpTracker(reply({ files: new Map([[key, { complete: 1 }]]) }));
    const c = new TrackerClient({ lookup: async () => [{ address: "127.0.0.1", family: 4 }] });
    const r = await c.scrape(`http://tracker.test:${s.port}/announce`, INFO_HASH, {
      timeoutMs: 1000,
    });
    assert.equal(r.complete, 1);
  });

  it("refuses unsupported URLs without touching the network", T, async () => {
    for (const url of [
      "wss://t.example/announce",
      "ftp://t/announce",
      "udp://t.example/announce",
      "nonsense",
    ])
      await rejectsTracker(client.announce(url, request()), "TRACKER_UNSUPPORTED");
  });

  it("reports a refused TCP connection as TRACKER_NETWORK", T, async () => {
    const s = await httpTracker(() => {});
    const url = s.url();
    await s.close();
    const e = await rejectsTracker(
      client.announce(url, request(), { timeoutMs: 3000 }),
      "TRACKER_NETWORK",
    );
    assert.match(e.message, /ECONNREFUSED/);
  });

  it("reports a failed name lookup as TRACKER_NETWORK", T, async () => {
    const c = new TrackerClient({
      lookup: async () => {
        throw Object.assign(new Error("nope"), { code: "ENOTFOUND" });
      },
    });
    const e = await rejectsTracker(
      c.announce("http://no.such.tracker/announce", request()),
      "TRACKER_NETWORK",
    );
    assert.match(e.message, /ENOTFOUND/);
    const empty = new TrackerClient({ lookup: async () => [] });
    await rejectsTracker(
      empty.announce("http://no.such.tracker/announce", request()),
      "TRACKER_NETWORK",
    );
  });
});

describe("TrackerClient: BEP 7 (both address families)", () => {
  it("announces once over IPv4 and once over IPv6 and merges the peers", T, async () => {
    const families: string[] = [];
    const s = await httpTracker((req, res) => {
      const from = req.socket.remoteAddress ?? "";
      const v4 = from === "127.0.0.1" || from === "::ffff:127.0.0.1";
      families.push(v4 ? "v4" : from === "::1" ? "v6" : from);
      const shared = compact4(["10.9.9.9", 9]);
      res.end(
        encode(
          v4
            ? { interval: 900, peers: Buffer.concat([compact4(["10.0.0.4", 4]), shared]) }
            : {
                interval: 900,
                peers: shared,
                peers6: Buffer.concat([Buffer.from(ipBytes("2001:db8::6")!), Buffer.from([0, 6])]),
              },
        ),
      );
    }, "::");
    const lookups: string[] = [];
    const client = new TrackerClient({
      lookup: async (host) => {
        lookups.push(host);
        return [
          { address: "127.0.0.1", family: 4 },
          { address: "::1", family: 6 },
        ];
      },
    });
    try {
      const r = await client.announce(`http://tracker.test:${s.port}/announce`, request(), {
        timeoutMs: 3000,
      });
      assert.deepEqual(lookups, ["tracker.test"]);
      assert.deepEqual(families.sort(), ["v4", "v6"]);
      assert.equal(s.hits[0]!.headers.host, `tracker.test:${s.port}`);
      const hosts = r.peers.map((p) => `${p.host}/${p.port}`).sort();
      assert.deepEqual(hosts, ["10.0.0.4/4", "10.9.9.9/9", "2001:db8::6/6"]);
    } finally {
      client.close();
    }
  });

  it("announces only over the families we listen on", T, async () => {
    const froms: string[] = [];
    const s = await httpTracker((req, res) => {
      froms.push(req.socket.remoteAddress ?? "");
      res.end(encode(GOOD));
    }, "::");
    const client = new TrackerClient({
      families: { ipv4: false, ipv6: true },
      lookup: async () => [
        { address: "127.0.0.1", family: 4 },
        { address: "::1", family: 6 },
      ],
    });
    try {
      await client.announce(`http://tracker.test:${s.port}/announce`, request(), {
        timeoutMs: 3000,
      });
      assert.deepEqual(froms, ["::1"]);
    } finally {
      client.close();
    }
  });

  it("succeeds when one family fails, and fails when both do", T, async () => {
    const s = await httpTracker(reply(GOOD), "127.0.0.1");
    const client = new TrackerClient({
      lookup: async () => [
        { address: "127.0.0.1", family: 4 },
        { address: "::1", family: 6 }, // nothing listens there on this port
      ],
    });
    try {
      const r = await client.announce(`http://tracker.test:${s.port}/announce`, request(), {
        timeoutMs: 3000,
      });
      assert.equal(r.peers.length, 2);
      await s.close();
      await rejectsTracker(
        client.announce(`http://tracker.test:${s.port}/announce`, request(), { timeoutMs: 3000 }),
        "TRACKER_NETWORK",
      );
    } finally {
      client.close();
    }
  });
});

// ---------------------------------------------------------------- UDP

type Mode = "ok" | "wrong-tid" | "short" | "error" | "silent" | "silent-announce";

class UdpTracker {
  readonly sock: dgram.Socket;
  readonly family: 4 | 6;
  mode: Mode = "ok";
  connects = 0;
  readonly announces: { urlData: Buffer | undefined; packet: Buffer }[] = [];
  readonly scrapes: Buffer[] = [];
  readonly cid = 0x1122334455667788n;
  port = 0;

  constructor(family: 4 | 6) {
    this.family = family;
    this.sock = dgram.createSocket(family === 4 ? "udp4" : "udp6");
    this.sock.on("message", (m, r) => this.#on(m, r));
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.sock.bind(0, this.family === 4 ? "127.0.0.1" : "::1", r));
    this.port = this.sock.address().port;
    return this;
  }

  url(path = "/announce"): string {
    return `udp://${this.family === 4 ? "127.0.0.1" : "[::1]"}:${this.port}${path}`;
  }

  close(): void {
    this.sock.close();
  }

  #send(r: dgram.RemoteInfo, ...parts: Buffer[]) {
    this.sock.send(Buffer.concat(parts), r.port, r.address);
  }

  #on(m: Buffer, r: dgram.RemoteInfo) {
    if (m.length < 16 || this.mode === "silent") return;
    const action = m.readUInt32BE(8);
    const tid = m.readUInt32BE(12);
    const head = (a: number, t = tid) => {
      const h = Buffer.alloc(8);
      h.writeUInt32BE(a, 0);
      h.writeUInt32BE(t >>> 0, 4);
      return h;
    };
    if (action === 0) {
      if (m.readBigUInt64BE(0) !== 0x41727101980n || m.length !== 16) return;
      this.connects++;
      const c = Buffer.alloc(8);
      c.writeBigUInt64BE(this.cid);
      this.#send(r, head(0), c);
      return;
    }
    if (m.readBigUInt64BE(0) !== this.cid) {
      this.#send(r, head(3), Buffer.from("bad connection id"));
      return;
    }
    if (action === 1) {
      if (m.length < 98) return;
      this.announces.push({ urlData: urlData(m), packet: m });
      switch (this.mode) {
        case "silent-announce":
          return;
        case "wrong-tid":
          this.#send(r, head(1, tid ^ 0x5a5a5a5a), Buffer.alloc(12));
          return;
        case "short":
          this.#send(r, head(1), Buffer.alloc(5));
          return;
        case "error":
          this.#send(r, head(3), Buffer.from("torrent \x1b[1mnot\x1b[0m registered\n"));
          return;
      }
      const nums = Buffer.alloc(12);
      nums.writeUInt32BE(1800, 0);
      nums.writeUInt32BE(3, 4); // leechers
      nums.writeUInt32BE(7, 8); // seeders
      const peers =
        this.family === 4
          ? Buffer.from(compact4(["10.0.0.1", 6881], ["10.0.0.2", 6882]))
          : Buffer.concat([Buffer.from(ipBytes("2001:db8::1")!), Buffer.from([0x1a, 0xe1])]);
      this.#send(r, head(1), nums, peers);
      return;
    }
    if (action === 2) {
      this.scrapes.push(m);
      const n = Buffer.alloc(12);
      n.writeUInt32BE(11, 0); // seeders
      n.writeUInt32BE(22, 4); // completed
      n.writeUInt32BE(33, 8); // leechers
      this.#send(r, head(2), n);
    }
  }
}

/** The BEP 41 URL data of an announce packet (undefined when it has no options). */
function urlData(m: Buffer): Buffer | undefined {
  if (m.length === 98) return undefined;
  const parts: Buffer[] = [];
  let off = 98;
  while (off < m.length) {
    const type = m[off]!;
    if (type === 0) break;
    if (type === 1) {
      off++;
      continue;
    }
    const len = m[off + 1]!;
    if (type === 2) parts.push(m.subarray(off + 2, off + 2 + len));
    off += 2 + len;
  }
  return Buffer.concat(parts);
}

async function udpTracker(family: 4 | 6): Promise<UdpTracker> {
  const t = await new UdpTracker(family).listen();
  after(() => t.close());
  return t;
}

for (const family of [4, 6] as const) {
  describe(`TrackerClient over UDP (IPv${family})`, () => {
    const client: TC = new TrackerClient();
    after(() => client.close());

    it("announces and scrapes", T, async () => {
      const s = await udpTracker(family);
      const r = await client.announce(s.url(), request({ event: "completed" }), {
        timeoutMs: 3000,
      });
      assert.deepEqual(r, {
        interval: 1800,
        complete: 7,
        incomplete: 3,
        peers:
          family === 4
            ? [
                { host: "10.0.0.1", port: 6881 },
                { host: "10.0.0.2", port: 6882 },
              ]
            : [{ host: "2001:db8::1", port: 6881 }],
      });
      const p = s.announces[0]!.packet;
      assert.deepEqual(Uint8Array.from(p.subarray(16, 36)), INFO_HASH);
      assert.equal(p.readUInt32BE(80), 1);
      assert.equal(p.readUInt16BE(96), 6881);
      const sc = await client.scrape(s.url(), INFO_HASH, { timeoutMs: 3000 });
      assert.deepEqual(sc, { complete: 11, downloaded: 22, incomplete: 33 });
      assert.equal(s.scrapes[0]!.length, 36);
      assert.deepEqual(Uint8Array.from(s.scrapes[0]!.subarray(16)), INFO_HASH);
    });

    it("reuses the connection id for a second announce within a minute", T, async () => {
      const s = await udpTracker(family);
      await client.announce(s.url(), request(), { timeoutMs: 3000 });
      await client.announce(s.url(), request({ event: "none" }), { timeoutMs: 3000 });
      await client.scrape(s.url(), INFO_HASH, { timeoutMs: 3000 });
      assert.equal(s.announces.length, 2);
      assert.equal(s.connects, 1);
    });

    it("sends the URL's path and query as BEP 41 URL data", T, async () => {
      const s = await udpTracker(family);
      const long = `/announce?passkey=${"k".repeat(400)}&x=%41`;
      await client.announce(s.url("/announce?passkey=abc"), request(), { timeoutMs: 3000 });
      await client.announce(s.url(long), request(), { timeoutMs: 3000 });
      await client.announce(s.url(""), request(), { timeoutMs: 3000 });
      assert.equal(s.announces[0]!.urlData?.toString(), "/announce?passkey=abc");
      assert.equal(s.announces[1]!.urlData?.toString(), long);
      assert.equal(s.announces[2]!.urlData, undefined);
      assert.equal(s.announces[2]!.packet.length, 98);
    });

    it("a reply with a transaction id we did not send is TRACKER_BAD_RESPONSE", T, async () => {
      const s = await udpTracker(family);
      s.mode = "wrong-tid";
      const e = await rejectsTracker(
        client.announce(s.url(), request(), { timeoutMs: 3000 }),
        "TRACKER_BAD_RESPONSE",
      );
      assert.match(e.message, /transaction id/);
    });

    it("a too-short reply is TRACKER_BAD_RESPONSE", T, async () => {
      const s = await udpTracker(family);
      s.mode = "short";
      const e = await rejectsTracker(
        client.announce(s.url(), request(), { timeoutMs: 3000 }),
        "TRACKER_BAD_RESPONSE",
      );
      assert.match(e.message, /shorter than 20/);
    });

    it(
      "an error reply is TRACKER_FAILURE with the tracker's message, made printable",
      T,
      async () => {
        const s = await udpTracker(family);
        s.mode = "error";
        const e = await rejectsTracker(
          client.announce(s.url(), request(), { timeoutMs: 3000 }),
          "TRACKER_FAILURE",
        );
        assert.equal(e.message, "tracker says: torrent \\x1b[1mnot\\x1b[0m registered\\x0a");
      },
    );

    it("no reply at all is TRACKER_TIMEOUT within the given time", T, async () => {
      const s = await udpTracker(family);
      s.mode = "silent";
      const t0 = Date.now();
      await rejectsTracker(
        client.announce(s.url(), request(), { timeoutMs: 400 }),
        "TRACKER_TIMEOUT",
      );
      const took = Date.now() - t0;
      assert.ok(took >= 350 && took < 1200, `took ${took} ms`);
      assert.equal(s.connects, 0);
    });

    it("a tracker that connects but never answers the announce times out", T, async () => {
      const s = await udpTracker(family);
      s.mode = "silent-announce";
      await rejectsTracker(
        client.announce(s.url(), request(), { timeoutMs: 400 }),
        "TRACKER_TIMEOUT",
      );
      // A timed-out announce drops the connection id: the next exchange connects again.
      s.mode = "ok";
      await client.announce(s.url(), request(), { timeoutMs: 3000 });
      assert.equal(s.connects, 2);
    });

    it("rejects at once when the signal is already aborted", {
      ...T,
    }, async () => {
      const s = await udpTracker(family);
      s.mode = "silent";
      const t0 = Date.now();
      await rejectsTracker(
        client.announce(s.url(), request(), { timeoutMs: 700, signal: AbortSignal.abort() }),
        "TRACKER_TIMEOUT",
      );
      assert.ok(Date.now() - t0 < 300, `took ${Date.now() - t0} ms`);
    });

    it("a closed port fails at once (ICMP port unreachable)", T, async () => {
      const probe = dgram.createSocket(family === 4 ? "udp4" : "udp6");
      await new Promise<void>((r) => probe.bind(0, family === 4 ? "127.0.0.1" : "::1", r));
      const port = probe.address().port;
      await new Promise<void>((r) => probe.close(r));
      const host = family === 4 ? "127.0.0.1" : "[::1]";
      const t0 = Date.now();
      const e = await rejectsTracker(
        client.announce(`udp://${host}:${port}/announce`, request(), { timeoutMs: 3000 }),
        "TRACKER_NETWORK",
      );
      assert.match(e.message, /ECONNREFUSED/);
      assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
      // The endpoint recovers: a tracker later on that port is reached.
      const s = new UdpTracker(family);
      try {
        await new Promise<void>((r) =>
          s.sock.bind(port, family === 4 ? "127.0.0.1" : "::1", () => r()),
        );
        s.port = port;
        const r = await client.announce(`udp://${host}:${port}/announce`, request(), {
          timeoutMs: 3000,
        });
        assert.equal(r.interval, 1800);
      } finally {
        s.close();
      }
    });
  });
}
