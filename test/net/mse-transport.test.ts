import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CRYPTO_PLAINTEXT, CRYPTO_RC4, MseInitiator, MseResponder } from "../../src/mse/index.js";
import { FallbackTransport, mseHandshake } from "../../src/net/mse-transport.js";
import type { Transport } from "../../src/net/transport.js";
import { lookupOf } from "../mse/helpers.js";

const IH = new Uint8Array(20).fill(3);

/** Two in-memory transports wired to each other (delivery on a later microtask, like sockets). */
function pipe(): [FakeTransport, FakeTransport] {
  const a = new FakeTransport();
  const b = new FakeTransport();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

class FakeTransport implements Transport {
  peer: FakeTransport | undefined;
  readonly remoteAddress = "127.0.0.9";
  readonly remotePort = 1;
  readonly congested = false;
  writes = 0;
  closed = false;
  paused = false;
  #queue: Uint8Array[] = [];
  onData: (chunk: Uint8Array, transient: boolean) => void = () => {};
  onDrain = () => {};
  onClose: (e?: Error) => void = () => {};
  write(chunks: Uint8Array[], onWritten?: () => void): boolean {
    this.writes++;
    const copy = Buffer.concat(chunks);
    const p = this.peer;
    setImmediate(() => p?.deliver(new Uint8Array(copy)));
    if (onWritten) queueMicrotask(onWritten);
    return true;
  }
  deliver(c: Uint8Array): void {
    if (this.closed) return;
    if (this.paused) this.#queue.push(c);
    // Transient: the receiver must not keep it; scribble over it afterwards to prove that.
    else {
      this.onData(c, true);
      c.fill(0xee);
    }
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    for (const c of this.#queue.splice(0)) this.deliver(c);
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    setImmediate(() => this.onClose());
    const p = this.peer;
    if (p && !p.closed) {
      p.closed = true;
      setImmediate(() => p.onClose());
    }
  }
}

async function connected(provide: number, allow: number) {
  const [ra, rb] = pipe();
  const a = new MseInitiator({ infoHash: IH, provide });
  const b = new MseResponder({ lookup: lookupOf(IH), allow });
  const pb = mseHandshake(rb, b);
  const pa = mseHandshake(ra, a, { first: a.start() });
  const [ta, tb] = await Promise.all([pa, pb]);
  return { ta, tb, ra, rb };
}

function collect(t: Transport): Uint8Array[] {
  const got: Uint8Array[] = [];
  t.onData = (c) => got.push(new Uint8Array(c));
  return got;
}

describe("MseTransport", () => {
  for (const [name, provide, want] of [
    ["rc4", CRYPTO_RC4, "rc4"],
    ["plaintext", CRYPTO_PLAINTEXT, "plaintext"],
  ] as const) {
    it(`carries payload both ways (${name}), one raw write per batch`, async () => {
      const { ta, tb, ra } = await connected(provide, CRYPTO_PLAINTEXT | CRYPTO_RC4);
      assert.equal(ta.encryption, want);
      assert.equal(tb.encryption, want);
      const atB = collect(tb);
      const atA = collect(ta);
      const before = ra.writes;
      const msg = [Uint8Array.of(1, 2, 3), new Uint8Array(5000).fill(9), Uint8Array.of(4)];
      const copy = Buffer.concat(msg);
      let written = false;
      ta.write(msg, () => {
        written = true;
      });
      assert.equal(ra.writes, before + 1);
      // The caller's chunks are untouched (encrypted into a buffer of our own).
      assert.deepEqual(Buffer.concat(msg), copy);
      tb.write([Uint8Array.of(7, 7)]);
      await new Promise((r) => setTimeout(r, 20));
      assert.ok(written);
      assert.deepEqual(Buffer.concat(atB), copy);
      assert.deepEqual(Buffer.concat(atA), Buffer.from([7, 7]));
    });
  }

  it("rejects with the MseError when the responder has no such torrent", async () => {
    const [ra, rb] = pipe();
    const a = new MseInitiator({ infoHash: IH, provide: CRYPTO_RC4 });
    const b = new MseResponder({ lookup: lookupOf(new Uint8Array(20)), allow: CRYPTO_RC4 });
    const pb = mseHandshake(rb, b);
    const pa = mseHandshake(ra, a, { first: a.start() });
    await assert.rejects(pb, (e: Error & { code?: string }) => e.code === "MSE_UNKNOWN_INFOHASH");
    await assert.rejects(pa, (e: Error & { code?: string }) => e.code === "MSE_CLOSED");
  });

  it("times out a silent peer", async () => {
    const [ra] = pipe();
    const a = new MseInitiator({ infoHash: IH, provide: CRYPTO_RC4 });
    ra.peer = undefined;
    // The handshake's timer is unref'd (it must not hold a process open): hold this one.
    const hold = setTimeout(() => {}, 5_000);
    await assert.rejects(
      mseHandshake(ra, a, { first: a.start(), timeoutMs: 30 }),
      (e: Error & { code?: string }) => e.code === "MSE_TIMEOUT",
    );
    clearTimeout(hold);
    assert.ok(ra.closed);
  });
});

describe("FallbackTransport", () => {
  it("redials when the peer hangs up before a byte, replaying what was written", async () => {
    const [first] = pipe();
    first.peer = undefined;
    const [second, far] = pipe();
    const atFar = collect(far);
    let redials = 0;
    const t = new FallbackTransport(first, async () => {
      redials++;
      return second;
    });
    const got = collect(t);
    t.write([Uint8Array.of(1, 2)]);
    first.close();
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(redials, 1);
    t.write([Uint8Array.of(3)]);
    far.write([Uint8Array.of(9)]);
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(Buffer.concat(atFar), Buffer.from([1, 2, 3]));
    assert.deepEqual(Buffer.concat(got), Buffer.from([9]));
  });

  it("does not redial once the peer has sent something", async () => {
    const [first, far] = pipe();
    let redials = 0;
    const t = new FallbackTransport(first, async () => {
      redials++;
      return first;
    });
    collect(t);
    let closed = false;
    t.onClose = () => {
      closed = true;
    };
    far.write([Uint8Array.of(1)]);
    await new Promise((r) => setTimeout(r, 10));
    far.close();
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(redials, 0);
    assert.ok(closed);
  });
});
