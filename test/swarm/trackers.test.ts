/**
 * Trackers in a live download: the only route to the seed is one honest tracker, sitting among
 * hostile and dead ones in the torrent's tiers. Each bad tracker must end in a clear tracker
 * error and back off (not hammer it), and the download must complete with the right bytes.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { Session } from "../../src/session/session.js";
import type { TrackerStatus } from "../../src/tracker/announcer.js";
import { startTestTracker, type TestTracker } from "../interop/clients/tracker.js";
import {
  closeAll,
  type Fixture,
  KIB,
  LOCALHOST,
  MIB,
  makeFixture,
  startSessions,
  withTimeout,
} from "./helpers.js";

interface Hostile {
  url: string;
  hits: number;
  close(): Promise<void>;
}

/** An HTTP tracker that answers every request with `body` (after `delayMs`). */
async function hostileHttp(
  body: (n: number) => Buffer | string,
  opts: { status?: number; headers?: Record<string, string> } = {},
): Promise<Hostile> {
  const h = { url: "", hits: 0, close: async () => {} };
  const server: Server = createServer((_req, res) => {
    h.hits++;
    res.writeHead(opts.status ?? 200, opts.headers ?? {});
    res.end(body(h.hits));
  });
  server.listen(0, LOCALHOST);
  await once(server, "listening");
  h.url = `http://${LOCALHOST}:${(server.address() as AddressInfo).port}/announce`;
  h.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return h;
}

/** A UDP tracker that answers a connect with a reply carrying the wrong transaction id. */
async function wrongTidUdp(): Promise<Hostile> {
  const sock = dgram.createSocket("udp4");
  const h = { url: "", hits: 0, close: async () => {} };
  sock.on("message", (msg, rinfo) => {
    h.hits++;
    const reply = Buffer.alloc(16);
    reply.writeUInt32BE(0, 0);
    reply.writeUInt32BE((msg.readUInt32BE(12) + 1) >>> 0, 4);
    reply.writeBigUInt64BE(42n, 8);
    sock.send(reply, rinfo.port, rinfo.address);
  });
  sock.bind(0, LOCALHOST);
  await once(sock, "listening");
  h.url = `udp://${LOCALHOST}:${sock.address().port}/announce`;
  h.close = () => new Promise<void>((r) => sock.close(() => r()));
  return h;
}

describe("trackers during a download", { timeout: 60_000 }, () => {
  let f: Fixture;
  let sessions: Session[] = [];
  let good: TestTracker;
  const hostiles: Hostile[] = [];

  before(async () => {
    f = await makeFixture(4 * MIB, 256 * KIB);
    sessions = await startSessions(2);
    good = await startTestTracker({
      peers: () => [{ ip: LOCALHOST, port: sessions[0]!.port }],
    });
  });
  after(async () => {
    await closeAll(sessions);
    await good?.stop();
    await Promise.allSettled(hostiles.map((h) => h.close()));
    await f?.cleanup();
  });

  it("finds the seed through the one honest tracker; every bad one is a clear error and backs off", async () => {
    const [seedSession, leechSession] = sessions as [Session, Session];
    await seedSession.add(f.meta, { downloadDir: f.seedDir, announce: false });

    const garbage = await hostileHttp(() => "this is not bencode");
    const reason = "go \x1b[31maway\x1b[0m\nnow!";
    const control = await hostileHttp(() => `d14:failure reason${reason.length}:${reason}e`);
    const huge = await hostileHttp(() => Buffer.alloc(3 * MIB, 0x61));
    const loop = await hostileHttp(() => "", {
      status: 302,
      headers: { location: "/announce?again" },
    });
    const udp = await wrongTidUdp();
    hostiles.push(garbage, control, huge, loop, udp);
    const dead = `http://${LOCALHOST}:1/announce`;
    const meta = {
      ...f.meta,
      trackers: [
        [garbage.url],
        [control.url],
        [huge.url],
        [loop.url],
        [udp.url],
        [dead],
        // A dead tracker in the honest one's tier (shuffled, so maybe tried first): BEP 12
        // failover within the tier, and the tracker that answered moves to the front.
        [`http://${LOCALHOST}:2/announce`, good.announceUrl],
      ],
    };
    const statuses: TrackerStatus[] = [];
    const downloadDir = await f.newDir("leech");
    leechSession.once("torrent-added", (t) => t.on("tracker", (s) => statuses.push(s)));
    const t = await leechSession.add(meta, { downloadDir });
    await withTimeout(t.done, "the download through the honest tracker");
    assert.ok((await f.read(downloadDir)).equals(f.data), "downloaded bytes differ");

    const errorOf = (url: string) => statuses.find((s) => s.url === url && s.status === "error");
    const expect: [Hostile | string, string, RegExp][] = [
      [garbage, "TRACKER_BAD_RESPONSE", /not bencoded/],
      [control, "TRACKER_FAILURE", /go \\x1b\[31maway\\x1b\[0m\\x0anow!/],
      [huge, "TRACKER_TOO_LARGE", /cap/],
      [loop, "TRACKER_REDIRECTS", /redirects/],
      [udp, "TRACKER_BAD_RESPONSE", /transaction id/],
      [dead, "TRACKER_NETWORK", /ECONNREFUSED/],
    ];
    for (const [h, code, message] of expect) {
      const url = typeof h === "string" ? h : h.url;
      const e = errorOf(url);
      assert.ok(e, `no error reported for ${url}`);
      assert.equal(e.errorCode, code, `${url}: ${e.error}`);
      assert.match(e.error ?? "", message);
      assert.ok(e.failures >= 1 && (e.nextAnnounce ?? 0) > Date.now(), `${url} does not back off`);
    }
    assert.ok(
      statuses.some((s) => s.url === good.announceUrl && s.status === "working" && s.peers >= 1),
      "the honest tracker never worked",
    );
    // Back-off: a second or two of downloading is far below the first retry delay (15 s).
    for (const h of [garbage, control, huge, udp])
      assert.ok(h.hits <= 3, `${h.url}: ${h.hits} hits`);
    assert.ok(loop.hits <= 6, `redirect loop followed ${loop.hits} times`);
    // The tier moved the honest tracker to its front.
    const order = t
      .trackers()
      .filter((s) => s.tier === 6)
      .map((s) => s.url);
    assert.deepEqual(order, [good.announceUrl, `http://${LOCALHOST}:2/announce`]);
  });
});
