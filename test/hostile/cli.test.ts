/**
 * Hostile peers against the CLI: `tessera download ... --json` in a child process (production
 * timeouts and limits) fetches from a seed behind a slow link while it is attacked — 500
 * simultaneous connections, slowloris, a 4 GiB length prefix, broken and oddly typed extension
 * handshakes, a request flood beyond reqq, a reject flood from a peer that never reads, a peer
 * answering with the CLI's own peer id, one with a wrong info-hash, and a fake seed sending corrupt
 * blocks. The process stays up, its memory stays bounded, and it exits 0 with the right bytes.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createTorrent } from "../../src/create/index.js";
import type { Session } from "../../src/session/session.js";
import { buildReserved } from "../../src/wire/index.js";
import { startTessera, type TesseraEvent } from "../interop/tessera-cli.js";
import { FaultProxy } from "../net-faults/proxy.js";
import {
  AttackerServer,
  actAsSeed,
  addressOf,
  BLOCK,
  type Fixture,
  Id,
  KIB,
  LOCALHOST,
  MIB,
  makeFixture,
  RawPeer,
  startsLikeHandshake,
} from "../swarm/helpers.js";
import {
  bencode,
  displayOf,
  extMessage,
  handshakeBytes,
  rawConnect,
  rssOf,
  startSession,
  trickle,
  u32s,
} from "./attack.js";

const FAST_EXT = buildReserved(["fast", "extended"]);

describe("hostile peers against the CLI", { timeout: 120_000 }, () => {
  let f: Fixture;
  let torrentFile: string;
  let seed: Session;
  let proxy: FaultProxy;

  before(async () => {
    f = await makeFixture(12 * MIB, 256 * KIB);
    const { torrent } = await createTorrent(path.join(f.seedDir, f.meta.name), {
      pieceLength: f.meta.pieceLength,
      creationDate: null,
    });
    torrentFile = path.join(f.dir, "hostile.torrent");
    await writeFile(torrentFile, torrent);
    seed = await startSession();
    await seed.add(f.meta, { downloadDir: f.seedDir });
    // A slow link: the download lasts ~6 s, long enough for every attack to land mid-download.
    proxy = await FaultProxy.listen(addressOf(seed), { bytesPerSec: 2 * MIB }, LOCALHOST);
  });
  after(async () => {
    await proxy?.close();
    await seed?.close();
    await f?.cleanup();
  });

  it("attacked from every side, it stays up, keeps memory bounded and exits 0 with the right bytes", async (tc) => {
    // Servers the CLI dials (--peer): one answers with the CLI's own peer id (a reflection), one
    // with another info-hash, one is a seed whose blocks are all corrupt.
    const servers: net.Server[] = [];
    const listen = async (host: string, onConn: (s: net.Socket) => void) => {
      const server = net.createServer((s) => {
        s.on("error", () => {});
        onConn(s);
      });
      await new Promise<void>((r) => server.listen({ host, port: 0 }, r));
      servers.push(server);
      return `${host}:${(server.address() as net.AddressInfo).port}`;
    };
    const dials = { self: 0, wrong: 0 };
    // Both hang up on anything but a plaintext handshake, as clients without MSE/PE do (the CLI
    // tries MSE first).
    const selfPeer = await listen("127.0.0.61", (s) => {
      s.once("data", (d: Buffer) => {
        if (!startsLikeHandshake(d)) return void s.destroy();
        dials.self++;
        // Echo the CLI's own handshake back: same info-hash, same peer id.
        s.write(d.subarray(0, 68));
      });
    });
    const wrongPeer = await listen("127.0.0.62", (s) => {
      s.once("data", (d: Buffer) => {
        if (!startsLikeHandshake(d)) return void s.destroy();
        dials.wrong++;
        s.write(handshakeBytes(randomBytes(20), FAST_EXT));
      });
    });
    const corrupt = await AttackerServer.listen("127.0.0.63", f.meta.infoHash, (p) =>
      actAsSeed(p, f, () => "corrupt"),
    );

    const out = await f.newDir("cli-hostile");
    const cli = await startTessera(
      [
        "download",
        torrentFile,
        "-o",
        out,
        "--peer",
        proxy.display,
        "--peer",
        selfPeer,
        "--peer",
        wrongPeer,
        "--peer",
        corrupt.display,
        "--port",
        "0",
        "--no-trackers",
      ],
      { workDir: f.dir, timeoutMs: 60_000 },
    );
    const sockets: net.Socket[] = [];
    const peers: RawPeer[] = [];
    let peakRss = 0;
    const rssWatch = setInterval(async () => {
      peakRss = Math.max(peakRss, (await rssOf(cli.process.pid)) ?? 0);
    }, 100);
    try {
      await cli.waitForEvent("checked", (e) => e.event === "checked");
      const port = cli.port;
      const baseRss = (await rssOf(cli.process.pid)) ?? 0;

      const addressOfPeer = new Map<RawPeer, string>();
      const attack = async (host: string, reserved = FAST_EXT) => {
        const p = await RawPeer.connect(port, f.meta.infoHash, host, reserved);
        peers.push(p);
        addressOfPeer.set(p, displayOf(p));
        return p;
      };
      // A 4 GiB length prefix.
      const huge = await attack("127.0.0.72");
      huge.send(u32s(0xffffffff), Buffer.from([Id.piece]));
      // A broken extension handshake, and one with every field of the wrong type.
      const badExt = await attack("127.0.0.73");
      badExt.send(extMessage(0, bencode([1, 2, 3])));
      const oddExt = await attack("127.0.0.74");
      oddExt.send(
        extMessage(
          0,
          bencode({ m: { ut_pex: -1, ut_metadata: 2 ** 40 }, reqq: "x", p: 70_000, v: 5 }),
        ),
      );
      // A request flood beyond the reqq it was told, never reading the blocks: for a piece the
      // CLI has (it announces each with a HAVE), so none is refused at once.
      const flooder = await attack("127.0.0.75");
      flooder.sendMessage({ type: "interested" });
      await flooder.waitFor((m) => m.id === Id.unchoke, "unchoke");
      const have = await flooder.waitFor((m) => m.id === Id.have, "a HAVE");
      const piece = have.payload.readUInt32BE(0);
      const requests = Buffer.alloc(1500 * 17);
      for (let k = 0; k < 1500; k++) {
        requests.writeUInt32BE(13, k * 17);
        requests[k * 17 + 4] = Id.request;
        requests.writeUInt32BE(piece, k * 17 + 5);
        requests.writeUInt32BE((k % (f.meta.pieceLength / BLOCK)) * BLOCK, k * 17 + 9);
        requests.writeUInt32BE(BLOCK, k * 17 + 13);
      }
      flooder.socket.pause();
      flooder.send(requests);
      // Requests while choked (rejects) from a peer that never reads: 16 MiB of them.
      const noReader = await attack("127.0.0.76", buildReserved(["fast"]));
      noReader.socket.pause();
      const request = Buffer.concat([u32s(13), Buffer.from([Id.request]), u32s(0, 0, BLOCK)]);
      const batch = Buffer.concat(Array.from({ length: 4096 }, () => request));
      void (async () => {
        for (let sent = 0; sent < 16 * MIB && !noReader.closed; sent += batch.length) {
          if (!noReader.socket.write(batch))
            await new Promise<void>((r) => {
              noReader.socket.once("drain", r);
              noReader.socket.once("close", r);
            });
        }
      })();

      // Then, with those in place, 500 simultaneous connections: silent, junk, and handshakes
      // kept alive; and a slowloris that sends its handshake a byte a second.
      const opened = await Promise.allSettled(
        Array.from({ length: 500 }, async (_, i) => {
          const s = await rawConnect(port, `127.0.0.${100 + (i % 50)}`);
          sockets.push(s);
          if (i % 5 === 1) s.write(randomBytes(64));
          else if (i % 5 > 1) s.write(handshakeBytes(f.meta.infoHash, FAST_EXT));
        }),
      );
      const keepAlive = setInterval(() => {
        for (const s of sockets) if (!s.destroyed) s.write(u32s(0));
      }, 1000);
      // Slowloris: the handshake a byte a second.
      const slow = await rawConnect(port, "127.0.0.71");
      sockets.push(slow);
      void trickle(slow, handshakeBytes(f.meta.infoHash), 1000);

      const done = await cli.exited(60_000);
      clearInterval(keepAlive);
      assert.equal(done.code, 0, `exit ${done.code} (${done.signal})`);
      const ev = cli.events;
      assert.ok(
        ev.some((e) => e.event === "done"),
        "no done event",
      );
      assert.ok((await f.read(out)).equals(f.data), "downloaded bytes differ");

      const reasonOf = (p: RawPeer) =>
        ev.find((e) => e.event === "peer-disconnected" && e.address === addressOfPeer.get(p))
          ?.reason;
      const expect: [string, RawPeer, RegExp][] = [
        ["4 GiB length prefix", huge, /WIRE_MESSAGE_TOO_LONG/],
        ["broken extension handshake", badExt, /EXT_BAD_HANDSHAKE/],
        ["request flood", flooder, /request-flood/],
        ["reject flood, not reading", noReader, /send backlog|request-flood/],
      ];
      for (const [name, p, re] of expect)
        assert.match(String(reasonOf(p)), re, `${name}: ${reasonOf(p)}`);
      assert.ok(
        !/protocol violation/.test(String(reasonOf(oddExt))),
        `odd but valid extension handshake dropped: ${reasonOf(oddExt)}`,
      );
      const banned = ev.filter((e) => e.event === "peer-banned");
      assert.ok(
        banned.every((e) => String(e.address).startsWith("127.0.0.63:")),
        `${JSON.stringify(banned)}`,
      );
      assert.ok(banned.length === 1, "the corrupting seed was not banned");
      assert.deepEqual(
        ev.filter((e: TesseraEvent) => e.event === "error" || e.event === "unparsed"),
        [],
      );
      assert.equal(dials.self, 1, "dialled itself again");
      assert.equal(dials.wrong, 1, "dialled the wrong torrent again");
      assert.ok(opened.every((r) => r.status === "fulfilled"));
      tc.diagnostic(
        `CLI RSS ${(baseRss / MIB).toFixed(0)} MiB before the attacks, peak ` +
          `${(peakRss / MIB).toFixed(0)} MiB; ${banned.length} banned; reasons: ` +
          expect.map(([n, p]) => `${n}: ${reasonOf(p)}`).join("; "),
      );
      assert.ok(peakRss < 400 * MIB, `CLI RSS peaked at ${(peakRss / MIB).toFixed(0)} MiB`);
    } finally {
      clearInterval(rssWatch);
      for (const s of sockets) s.destroy();
      for (const p of peers) p.close();
      await cli.stop();
      await corrupt.close();
      for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
    }
  });
});
