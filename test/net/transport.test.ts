import assert from "node:assert/strict";
import net from "node:net";
import { describe, it } from "node:test";
import { dial } from "../../src/net/listener.js";
import { tcpTransport } from "../../src/net/transport.js";

/** A server that sends `greeting(i)` to its i-th connection at once, then echoes `bye` on data. */
async function server(greeting: (i: number) => Uint8Array): Promise<net.Server> {
  let n = 0;
  const srv = net.createServer((s) => {
    s.write(greeting(n++));
    s.on("data", () => s.end(Uint8Array.of(0xff)));
    s.on("error", () => {});
  });
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  return srv;
}

describe("dialled TCP transport", () => {
  it("hands reads on as transient views of a shared buffer; bytes sent before wiring wait", async () => {
    const size = 300_000; // more than one read buffer
    const payload = (i: number) => Uint8Array.from({ length: size }, (_, k) => (k * 7 + i) & 0xff);
    const srv = await server(payload);
    try {
      const port = (srv.address() as net.AddressInfo).port;
      const sockets = await Promise.all([dial("127.0.0.1", port), dial("127.0.0.1", port)]);
      // Let the greetings arrive before anything reads them: the sockets start paused.
      await new Promise((r) => setTimeout(r, 50));
      const results = await Promise.all(
        sockets.map(
          (socket) =>
            new Promise<{ bytes: Uint8Array; transient: boolean[] }>((resolve) => {
              const t = tcpTransport(socket);
              const parts: Uint8Array[] = [];
              const transient: boolean[] = [];
              t.onData = (chunk, tr) => {
                assert.ok(!Buffer.isBuffer(chunk), "a plain Uint8Array, whose slice() copies");
                parts.push(chunk.slice());
                transient.push(tr);
                if (parts.reduce((a, p) => a + p.length, 0) === size) t.write([Uint8Array.of(1)]);
              };
              t.onClose = () => resolve({ bytes: Buffer.concat(parts), transient });
            }),
        ),
      );
      const firsts = results.map((r) => r.bytes[0]).sort();
      for (const r of results) {
        assert.equal(r.bytes.length, size + 1);
        const i = r.bytes[0]!;
        assert.deepEqual(new Uint8Array(r.bytes.subarray(0, size)), payload(i));
        assert.equal(r.bytes[size], 0xff);
        assert.ok(r.transient.every((x) => x));
      }
      assert.deepEqual(firsts, [0, 1]);
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });

  it("writes of one turn go out together, in order, and a close right after still sends them", async () => {
    const got: Buffer[] = [];
    let ended!: () => void;
    const done = new Promise<void>((r) => {
      ended = r;
    });
    const srv = net.createServer((s) => {
      s.on("data", (d) => got.push(d));
      s.on("end", () => ended());
      s.on("close", () => ended());
      s.on("error", () => {});
    });
    await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
    try {
      const port = (srv.address() as net.AddressInfo).port;
      const t = tcpTransport(await dial("127.0.0.1", port));
      let written = 0;
      // Many small messages in one turn (haves, rejects), then hang up in the same turn.
      for (let i = 0; i < 200; i++) t.write([Uint8Array.of(i >> 8, i & 0xff)], () => written++);
      t.write([Buffer.alloc(100_000, 7), Uint8Array.of(9)]);
      t.close();
      await done;
      const all = Buffer.concat(got);
      assert.equal(all.length, 400 + 100_001, "every byte written before close arrived");
      for (let i = 0; i < 200; i++)
        assert.equal(all.readUInt16BE(2 * i), i, `message ${i} in order`);
      assert.equal(all[400 + 100_000], 9);
      await new Promise((r) => setImmediate(r));
      assert.equal(written, 200, "each write's callback ran");
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });
});
