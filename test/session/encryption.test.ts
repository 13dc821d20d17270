/**
 * MSE/PE between Tessera sessions: every pair of policies (dialler × listener), and the
 * listener's routing of MSE connections (including a DH key that starts with byte 19).
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { CRYPTO_PLAINTEXT, CRYPTO_RC4, MseInitiator, publicKey } from "../../src/mse/index.js";
import { dial } from "../../src/net/listener.js";
import { mseHandshake } from "../../src/net/mse-transport.js";
import { type Encryption, tcpTransport } from "../../src/net/transport.js";
import { type EncryptionPolicy, Session } from "../../src/session/session.js";
import { encodeHandshake, HANDSHAKE_PREFIX } from "../../src/wire/index.js";
import { seeded } from "../mse/helpers.js";
import {
  closeAll,
  type Fixture,
  KIB,
  LOCALHOST,
  makeFixture,
  sleep,
  withTimeout,
} from "../swarm/helpers.js";

type Outcome = Encryption | "fail";

/** dialler policy → listener policy → what the connection ends up as. */
const EXPECTED: Record<EncryptionPolicy, Record<EncryptionPolicy, Outcome>> = {
  off: { off: "none", allow: "none", prefer: "none", require: "fail" },
  // The listener hangs up on a plaintext handshake; the dialler redials with MSE.
  allow: { off: "none", allow: "none", prefer: "none", require: "rc4" },
  // The listener hangs up on MSE; the dialler redials plaintext. Offered both, a listener that
  // does not require RC4 selects plaintext (as libtorrent does at its defaults).
  prefer: { off: "none", allow: "plaintext", prefer: "plaintext", require: "rc4" },
  require: { off: "fail", allow: "rc4", prefer: "rc4", require: "rc4" },
};
const POLICIES: EncryptionPolicy[] = ["off", "allow", "prefer", "require"];

const create = (encryption: EncryptionPolicy) =>
  Session.create({
    port: 0,
    host: LOCALHOST,
    hashThreads: 1,
    encryption,
    timeouts: { connectMs: 3_000 },
  });

describe("session encryption policies", { timeout: 120_000 }, () => {
  let f: Fixture;
  before(async () => {
    f = await makeFixture(512 * KIB, 64 * KIB);
  });
  after(() => f?.cleanup());

  for (const dialler of POLICIES) {
    for (const listener of POLICIES) {
      const want = EXPECTED[dialler][listener];
      it(`dialler ${dialler} → listener ${listener}: ${want}`, async () => {
        const seedS = await create(listener);
        const leechS = await create(dialler);
        try {
          const seed = await seedS.add(f.meta, { downloadDir: f.seedDir, announce: false });
          const seen: Encryption[] = [];
          seed.on("peer-connected", (_a, _id, _f, enc) => seen.push(enc));
          const dir = await f.newDir(`leech-${dialler}-${listener}`);
          const leech = await leechS.add(f.meta, {
            downloadDir: dir,
            peers: [{ host: LOCALHOST, port: seedS.port }],
            announce: false,
            resume: false,
          });
          const mine: Encryption[] = [];
          leech.on("peer-connected", (_a, _id, _f, enc) => mine.push(enc));
          if (want === "fail") {
            await sleep(1_500);
            assert.deepEqual(mine, []);
            assert.deepEqual(seen, []);
            assert.equal(leech.stats().piecesHave, 0);
            return;
          }
          await withTimeout(leech.done, "download");
          assert.ok((await f.read(dir)).equals(f.data), "bytes differ");
          assert.equal(mine[0], want, `dialler saw ${mine.join(",")}`);
          assert.equal(seen[0], want, `listener saw ${seen.join(",")}`);
        } finally {
          await closeAll([seedS, leechS]);
        }
      });
    }
  }
});

describe("listener: MSE routing", { timeout: 60_000 }, () => {
  let f: Fixture;
  let s: Session;
  before(async () => {
    f = await makeFixture(64 * KIB, 16 * KIB);
    s = await create("prefer");
    await s.add(f.meta, { downloadDir: f.seedDir, announce: false });
  });
  after(async () => {
    await s?.close();
    await f?.cleanup();
  });

  /** Run MSE against the session and exchange BitTorrent handshakes over it. */
  async function handshakeOver(a: MseInitiator, infoHash: Uint8Array): Promise<Uint8Array> {
    const raw = tcpTransport(await dial(LOCALHOST, s.port));
    const first = a.start();
    const t = await mseHandshake(raw, a, { first, timeoutMs: 5_000 });
    const got: Uint8Array[] = [];
    const reply = new Promise<Uint8Array>((resolve, reject) => {
      t.onData = (c) => {
        got.push(c.slice());
        const all = Buffer.concat(got);
        if (all.length >= 68) resolve(new Uint8Array(all.subarray(0, 68)));
      };
      t.onClose = () => reject(new Error("closed"));
    });
    t.write([
      encodeHandshake({
        infoHash,
        peerId: new Uint8Array(20).fill(65),
        reserved: new Uint8Array(8),
      }),
    ]);
    try {
      return await withTimeout(reply, "BitTorrent handshake over MSE", 5_000);
    } finally {
      t.close();
    }
  }

  it("routes an MSE connection to the torrent its req2 names", async () => {
    for (const provide of [CRYPTO_RC4, CRYPTO_PLAINTEXT, CRYPTO_RC4 | CRYPTO_PLAINTEXT]) {
      const h = await handshakeOver(
        new MseInitiator({ infoHash: f.meta.infoHash, provide }),
        f.meta.infoHash,
      );
      assert.deepEqual(h.subarray(0, 20), new Uint8Array(HANDSHAKE_PREFIX));
      assert.deepEqual(h.subarray(28, 48), new Uint8Array(f.meta.infoHash));
    }
  });

  it("takes a DH key that starts with byte 19 for MSE (the whole 20-byte prefix decides)", async () => {
    let random: ((n: number) => Uint8Array) | undefined;
    for (let seed = 1; seed < 100_000 && !random; seed++) {
      const r = seeded(seed);
      if (publicKey(r(20))[0] === 0x13) random = seeded(seed);
    }
    assert.ok(random, "no seed gives a key starting with 19");
    const a = new MseInitiator({
      infoHash: f.meta.infoHash,
      provide: CRYPTO_RC4,
      random,
      maxPad: 0,
    });
    const h = await handshakeOver(a, f.meta.infoHash);
    assert.deepEqual(h.subarray(28, 48), new Uint8Array(f.meta.infoHash));
  });

  it("closes an MSE connection for a torrent it does not have", async () => {
    const other = new Uint8Array(20).fill(1);
    await assert.rejects(
      handshakeOver(new MseInitiator({ infoHash: other, provide: CRYPTO_RC4 }), other),
    );
  });

  /** Send `bytes` on a fresh connection; resolves with ms until the session closed it. */
  async function closedAfter(port: number, bytes: Uint8Array): Promise<number> {
    const started = Date.now();
    const sock = net.connect({ host: LOCALHOST, port });
    sock.on("error", () => {});
    await new Promise<void>((r) => sock.once("connect", () => r()));
    sock.write(bytes);
    sock.resume();
    await withTimeout(
      new Promise<void>((r) => sock.once("close", () => r())),
      "the session to close the connection",
      8_000,
    );
    return Date.now() - started;
  }

  it("closes junk at once: no req1 within 532 bytes of a key", async () => {
    const junk = seeded(77)(2_000);
    junk[0] = 0x55;
    assert.ok((await closedAfter(s.port, junk)) < 2_000);
  });

  it("off refuses MSE and require refuses plaintext, at once", async () => {
    const off = await create("off");
    const req = await create("require");
    try {
      const ya = new MseInitiator({ infoHash: f.meta.infoHash, provide: CRYPTO_RC4 }).start();
      assert.ok((await closedAfter(off.port, ya)) < 2_000);
      const hs = encodeHandshake({
        infoHash: f.meta.infoHash,
        peerId: new Uint8Array(20).fill(66),
        reserved: new Uint8Array(8),
      });
      assert.ok((await closedAfter(req.port, hs)) < 2_000);
    } finally {
      await closeAll([off, req]);
    }
  });
});
