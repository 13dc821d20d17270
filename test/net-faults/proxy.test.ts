/**
 * The fault proxy does what the network fault tests rely on: latency (order kept), bandwidth,
 * exactly N bytes then FIN, a reset, and a stall that neither closes nor
 * forwards.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { sleep } from "../swarm/helpers.js";
import { FaultProxy, type Faults } from "./proxy.js";

/** A server that sends `payload` to each connection and echoes nothing. */
async function source(payload: Buffer): Promise<net.Server> {
  const server = net.createServer((s) => {
    s.on("error", () => {});
    s.end(payload);
  });
  await new Promise<void>((r) => server.listen({ host: "127.0.0.1", port: 0 }, r));
  return server;
}

/** Connect through `p`; collect what arrives and how the connection ended. */
async function fetchThrough(
  p: FaultProxy,
  ms = 5_000,
): Promise<{ data: Buffer; end: "fin" | "reset" | "timeout"; firstByteMs: number; ms: number }> {
  const t0 = performance.now();
  const s = net.connect(p.address);
  const chunks: Buffer[] = [];
  let firstByteMs = -1;
  s.on("data", (c: Buffer) => {
    if (firstByteMs < 0) firstByteMs = performance.now() - t0;
    chunks.push(c);
  });
  const end = await new Promise<"fin" | "reset" | "timeout">((resolve) => {
    const timer = setTimeout(() => resolve("timeout"), ms);
    s.once("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(e.code === "ECONNRESET" ? "reset" : "fin");
    });
    s.once("end", () => {
      clearTimeout(timer);
      resolve("fin");
    });
  });
  s.destroy();
  return { data: Buffer.concat(chunks), end, firstByteMs, ms: performance.now() - t0 };
}

describe("fault proxy", () => {
  const payload = randomBytes(256 * 1024);
  let server: net.Server;
  const proxies: FaultProxy[] = [];
  const upstream = () => ({ host: "127.0.0.1", port: (server.address() as net.AddressInfo).port });
  const proxy = async (faults: Faults) => {
    const p = await FaultProxy.listen(upstream(), faults, "127.0.0.1");
    proxies.push(p);
    return p;
  };

  before(async () => {
    server = await source(payload);
  });
  after(async () => {
    for (const p of proxies) await p.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("forwards everything, late by the latency, in order; bandwidth bounds the rate", async () => {
    const r = await fetchThrough(await proxy({ latencyMs: 150, jitterMs: 50 }));
    assert.equal(r.end, "fin");
    assert.ok(r.data.equals(payload), "bytes reordered or lost");
    assert.ok(r.firstByteMs >= 140, `first byte after ${r.firstByteMs} ms`);
    const slow = await fetchThrough(await proxy({ bytesPerSec: 512 * 1024 }));
    assert.ok(slow.data.equals(payload));
    assert.ok(slow.ms >= 400, `256 KiB at 512 KiB/s took ${slow.ms} ms`);
  });

  it("drops after exactly N bytes with a FIN; resets with an RST after N bytes or T ms", async () => {
    const cut = await fetchThrough(await proxy({ dropAfterBytes: 100_003 }));
    assert.equal(cut.end, "fin");
    assert.ok(cut.data.equals(payload.subarray(0, 100_003)));
    const p = await proxy({ resetAfterBytes: 50_000, latencyMs: 20 });
    const reset = await fetchThrough(p);
    // An RST (SO_LINGER 0): Node reports ECONNRESET, or EOF when the kernel's error was taken
    // by another call first; either way the connection is gone at once.
    assert.notEqual(reset.end, "timeout");
    assert.ok(reset.data.length <= 50_000);
    assert.equal(p.stats.resets, 1);
    const timed = await fetchThrough(await proxy({ resetAfterMs: 100, latencyMs: 10_000 }));
    assert.notEqual(timed.end, "timeout");
    assert.equal(timed.data.length, 0);
    assert.ok(timed.ms < 2_000, `reset after ${timed.ms} ms`);
  });

  it("a stall forwards nothing more and closes nothing", async () => {
    const p = await proxy({ stallAfterBytes: 10_000 });
    const r = await fetchThrough(p, 800);
    assert.equal(r.end, "timeout");
    assert.ok(r.data.equals(payload.subarray(0, 10_000)));
    assert.equal(p.stats.stalls, 1);
    await sleep(10);
    assert.equal(p.connections[0]!.state, "stalled");
  });
});
