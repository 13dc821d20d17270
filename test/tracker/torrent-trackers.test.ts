import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { encode } from "../../src/bencode/index.js";
import type { TrackerStatus } from "../../src/tracker/announcer.js";
import { type RequestOptions, TrackerClient } from "../../src/tracker/client.js";
import { TrackerError } from "../../src/tracker/errors.js";
import {
  NUMWANT,
  NUMWANT_THIN,
  TorrentTrackers,
  type TorrentTrackersOptions,
} from "../../src/tracker/torrent-trackers.js";
import type { AnnounceRequest, AnnounceResponse } from "../../src/tracker/types.js";
import type { PeerAddress } from "../../src/util/address.js";
import { compact4, INFO_HASH, PEER_ID } from "./helpers.js";

interface Call {
  url: string;
  req: AnnounceRequest;
  o: RequestOptions;
  resolve: (r: AnnounceResponse) => void;
  reject: (e: unknown) => void;
}

/** A TrackerClient stand-in: each announce waits until the test settles it. */
class FakeClient {
  readonly calls: Call[] = [];
  /** Settle on abort (as the real client does); off models a client stuck somewhere unabortable. */
  honourAbort = true;
  /** Answer at once with this (when set) instead of waiting for the test. */
  auto: ((url: string, req: AnnounceRequest) => AnnounceResponse) | undefined;

  announce(url: string, req: AnnounceRequest, o: RequestOptions = {}): Promise<AnnounceResponse> {
    return new Promise<AnnounceResponse>((resolve, reject) => {
      this.calls.push({ url, req, o, resolve, reject });
      if (this.auto) {
        resolve(this.auto(url, req));
        return;
      }
      if (this.honourAbort)
        o.signal?.addEventListener("abort", () =>
          reject(new TrackerError("TRACKER_TIMEOUT", "cancelled")),
        );
    });
  }

  events(): [string, string][] {
    return this.calls.map((c) => [c.url, c.req.event]);
  }
}

const flush = () => new Promise<void>((r) => setImmediate(r));

interface Harness {
  tt: TorrentTrackers;
  client: FakeClient;
  stats: { uploaded: number; downloaded: number; left: number; done: boolean; peers: number };
  clock: { now: number };
  peers: [PeerAddress[], string][];
  statuses: TrackerStatus[];
}

function harness(tiers: string[][], over: Partial<TorrentTrackersOptions> = {}): Harness {
  const client = new FakeClient();
  const stats = { uploaded: 10, downloaded: 20, left: 1000, done: false, peers: 0 };
  const clock = { now: 1_000_000 };
  const peers: [PeerAddress[], string][] = [];
  const statuses: TrackerStatus[] = [];
  const tt = new TorrentTrackers({
    tiers,
    infoHash: INFO_HASH,
    peerId: PEER_ID,
    client: client as unknown as TrackerClient,
    port: 51413,
    stats: () => ({ ...stats }),
    onPeers: (p, url) => peers.push([p, url]),
    onStatus: (s) => statuses.push(s),
    tickMs: 1_000_000,
    now: () => clock.now,
    random: () => 0.99999,
    ...over,
  });
  return { tt, client, stats, clock, peers, statuses };
}

const ok = (over: Partial<AnnounceResponse> = {}): AnnounceResponse => ({
  interval: 1800,
  peers: [{ host: "10.0.0.1", port: 6881 }],
  ...over,
});

describe("TorrentTrackers", () => {
  it("announces started to one tracker per tier on start, with the torrent's numbers", async () => {
    const h = harness([["http://a1/announce", "http://a2/announce"], ["udp://b:1"]]);
    h.tt.start();
    try {
      assert.deepEqual(h.client.events(), [
        ["http://a1/announce", "started"],
        ["udp://b:1", "started"],
      ]);
      const r = h.client.calls[0]!.req;
      assert.deepEqual(r.infoHash, INFO_HASH);
      assert.deepEqual(r.peerId, PEER_ID);
      assert.equal(r.port, 51413);
      assert.equal(r.uploaded, 10);
      assert.equal(r.downloaded, 20);
      assert.equal(r.left, 1000);
      // Few peers: the swarm counts as thin and we ask for more.
      assert.equal(r.numWant, NUMWANT_THIN);
      assert.equal(r.key, h.client.calls[1]!.req.key);
      assert.ok(h.client.calls[0]!.o.signal instanceof AbortSignal);
      assert.deepEqual(
        h.statuses.map((s) => [s.url, s.status]),
        [
          ["http://a1/announce", "announcing"],
          ["udp://b:1", "announcing"],
        ],
      );
      // A second start or poke sends nothing more while those are in flight.
      h.tt.start();
      h.tt.poke();
      assert.equal(h.client.calls.length, 2);
    } finally {
      await h.tt.stop(100);
    }
  });

  it("asks for NUMWANT peers once the swarm is not thin", async () => {
    const h = harness([["http://a/announce"]]);
    h.stats.peers = 30;
    h.tt.start();
    try {
      assert.equal(h.client.calls[0]!.req.numWant, NUMWANT);
    } finally {
      await h.tt.stop(100);
    }
  });

  it("hands peers to onPeers with the tracker's URL and reports the working status", async () => {
    const h = harness([["http://a/announce"]]);
    h.tt.start();
    try {
      h.client.calls[0]!.resolve(
        ok({ peers: [{ host: "10.0.0.9", port: 7 }], complete: 3, incomplete: 4 }),
      );
      await flush();
      assert.deepEqual(h.peers, [[[{ host: "10.0.0.9", port: 7 }], "http://a/announce"]]);
      const last = h.statuses.at(-1)!;
      assert.equal(last.status, "working");
      assert.equal(last.peers, 1);
      assert.equal(last.seeders, 3);
      assert.equal(last.leechers, 4);
      assert.equal(last.interval, 1800);
      assert.deepEqual(h.tt.status()[0]!.status, "working");
    } finally {
      await h.tt.stop(100);
    }
  });

  it("does not call onPeers for an empty peer list", async () => {
    const h = harness([["http://a/announce"]]);
    h.tt.start();
    try {
      h.client.calls[0]!.resolve(ok({ peers: [] }));
      await flush();
      assert.deepEqual(h.peers, []);
      assert.equal(h.statuses.at(-1)!.status, "working");
    } finally {
      await h.tt.stop(100);
    }
  });

  it("on failure reports the error and fails over to the next tracker at once", async () => {
    const h = harness([["http://a1/announce", "http://a2/announce"]]);
    h.tt.start();
    try {
      h.client.calls[0]!.reject(new TrackerError("TRACKER_HTTP_STATUS", "HTTP 500"));
      await flush();
      const err = h.statuses.find((s) => s.status === "error");
      assert.ok(err);
      assert.equal(err.url, "http://a1/announce");
      assert.equal(err.errorCode, "TRACKER_HTTP_STATUS");
      assert.equal(err.error, "HTTP 500");
      assert.deepEqual(h.client.events().at(-1), ["http://a2/announce", "started"]);
      // A non-TrackerError failure is reported as a network error.
      h.client.calls[1]!.reject(new Error("boom"));
      await flush();
      const s2 = h.statuses.filter((s) => s.url === "http://a2/announce").at(-1)!;
      assert.equal(s2.errorCode, "TRACKER_NETWORK");
      assert.equal(s2.error, "boom");
    } finally {
      await h.tt.stop(100);
    }
  });

  it("re-announces on the clock, sending the tracker id back", async () => {
    const h = harness([["http://a/announce"]]);
    h.stats.peers = 30;
    h.tt.start();
    try {
      h.client.calls[0]!.resolve(ok({ interval: 900, trackerId: "T-1" }));
      await flush();
      h.clock.now += 899_000;
      h.tt.poke();
      assert.equal(h.client.calls.length, 1);
      h.clock.now += 1000;
      h.tt.poke();
      assert.equal(h.client.calls.length, 2);
      assert.equal(h.client.calls[1]!.req.event, "none");
      assert.equal(h.client.calls[1]!.req.trackerId, "T-1");
    } finally {
      await h.tt.stop(100);
    }
  });

  it("sends completed when the torrent is done, once", async () => {
    const h = harness([["http://a/announce"]]);
    h.tt.start();
    try {
      h.client.calls[0]!.resolve(ok());
      await flush();
      h.stats.done = true;
      h.stats.left = 0;
      h.tt.poke();
      assert.deepEqual(h.client.events().at(-1), ["http://a/announce", "completed"]);
      assert.equal(h.client.calls.at(-1)!.req.left, 0);
      h.client.calls.at(-1)!.resolve(ok());
      await flush();
      h.tt.poke();
      assert.equal(h.client.calls.length, 2);
    } finally {
      await h.tt.stop(100);
    }
    // stop: completed was sent, so only stopped follows.
    assert.deepEqual(h.client.events().slice(2), [["http://a/announce", "stopped"]]);
  });

  it("stop() sends completed then stopped when completed was never sent", async () => {
    const h = harness([["http://a/announce"], ["http://b/announce"]]);
    h.client.auto = () => ok();
    h.tt.start();
    await flush();
    // The torrent finishes, but stop comes before any poke.
    h.stats.done = true;
    h.stats.left = 0;
    await h.tt.stop(1000);
    assert.deepEqual(h.client.events(), [
      ["http://a/announce", "started"],
      ["http://b/announce", "started"],
      ["http://a/announce", "completed"],
      ["http://b/announce", "completed"],
      ["http://a/announce", "stopped"],
      ["http://b/announce", "stopped"],
    ]);
    const stopped = h.client.calls.filter((c) => c.req.event === "stopped");
    for (const c of stopped) {
      assert.equal(c.req.numWant, 0);
      assert.equal(c.req.left, 0);
      assert.equal(c.o.timeoutMs, 1000);
    }
    // Once stopped, nothing more goes out.
    h.tt.poke();
    h.tt.start();
    assert.equal(h.client.calls.length, 6);
  });

  it("stop() tells stopped only to trackers that acknowledged started", async () => {
    const h = harness([["http://a/announce"], ["http://b/announce"], ["http://c/announce"]]);
    h.tt.start();
    h.client.calls[0]!.resolve(ok());
    h.client.calls[1]!.reject(new TrackerError("TRACKER_TIMEOUT", "x"));
    await flush();
    const c = h.client.calls[2]!; // still in flight
    const n = h.client.calls.length;
    await h.tt.stop(500);
    assert.equal(c.o.signal!.aborted, true, "a regular announce in flight is cancelled");
    assert.deepEqual(h.client.events().slice(n), [["http://a/announce", "stopped"]]);
  });

  it("stop() lets a completed in flight finish, and does not send it twice", async () => {
    const h = harness([["http://a/announce"]]);
    h.tt.start();
    h.client.calls[0]!.resolve(ok());
    await flush();
    h.stats.done = true;
    h.tt.poke();
    const completed = h.client.calls[1]!;
    assert.equal(completed.req.event, "completed");
    const stopping = h.tt.stop(2000);
    await flush();
    assert.equal(completed.o.signal!.aborted, false);
    assert.equal(h.client.calls.length, 2, "stopped waits for the completed in flight");
    completed.resolve(ok());
    h.client.auto = () => ok();
    await stopping;
    assert.deepEqual(h.client.events(), [
      ["http://a/announce", "started"],
      ["http://a/announce", "completed"],
      ["http://a/announce", "stopped"],
    ]);
  });

  it("stop() is bounded by its timeout when the tracker hangs", async () => {
    const h = harness([["http://a/announce"], ["http://b/announce"]]);
    h.tt.start();
    h.client.calls[0]!.resolve(ok());
    h.client.calls[1]!.resolve(ok());
    await flush();
    h.stats.done = true;
    h.tt.poke(); // completed to both, which hang
    const t0 = Date.now();
    await h.tt.stop(300);
    const took = Date.now() - t0;
    assert.ok(took >= 250 && took < 1000, `stop took ${took} ms`);
    for (const c of h.client.calls.slice(2)) assert.equal(c.o.signal!.aborted, true);
  });

  it("stop() is bounded by its timeout even when the client does not honour the abort signal", async () => {
    const h = harness([["http://a/announce"]]);
    h.tt.start();
    h.client.calls[0]!.resolve(ok());
    await flush();
    h.client.honourAbort = false;
    const t0 = Date.now();
    const r = await Promise.race([
      h.tt.stop(200).then(() => "stopped"),
      new Promise((res) => setTimeout(res, 700, "hung")),
    ]);
    assert.equal(r, "stopped", `stop() still pending after ${Date.now() - t0} ms`);
  });

  it("stop() with the real TrackerClient is bounded when name resolution hangs", async () => {
    const server = http.createServer((_req, res) => {
      res.end(encode({ interval: 1800, peers: compact4(["10.0.0.1", 6881]) }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    let lookups = 0;
    const client = new TrackerClient({
      lookup: () =>
        ++lookups === 1
          ? Promise.resolve([{ address: "127.0.0.1", family: 4 }])
          : new Promise(() => {}),
    });
    const h = harness([[`http://tracker.test:${port}/announce`]], { client });
    try {
      h.tt.start();
      for (let i = 0; i < 100 && h.peers.length === 0; i++)
        await new Promise((r) => setTimeout(r, 10));
      assert.equal(h.peers.length, 1, "the first announce works");
      const t0 = Date.now();
      const r = await Promise.race([
        h.tt.stop(200).then(() => "stopped"),
        new Promise((res) => setTimeout(res, 700, "hung")),
      ]);
      assert.equal(r, "stopped", `stop() still pending after ${Date.now() - t0} ms`);
    } finally {
      client.close();
      server.closeAllConnections();
      server.close();
    }
  });
});
