/**
 * MSE/PE against real clients on loopback: libtorrent at its default settings (encryption
 * enabled both ways: it dials encrypted first), libtorrent forced to RC4 both directions, and
 * Transmission requiring encryption, as a seed and as a leecher. Every transfer is compared byte for byte with the source,
 * and Tessera's `peer-connected` event says how the connection was encrypted.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import {
  compareTrees,
  type InteropScope,
  interopScope,
  startLibtorrentLeecher,
  startLibtorrentSeed,
  startTransmissionLeecher,
  startTransmissionSeed,
} from "./clients/index.js";
import { type Fixture, MIB, MID_LAYOUT, makeFixture } from "./engine-fixtures.js";
import {
  assertNoPeerFaults,
  startTessera,
  type TesseraProcess,
  tesseraDownload,
} from "./tessera-cli.js";

const STARTUP_MS = 60_000;
const DOWNLOAD_MS = 90_000;
/** libtorrent's enc_policy and enc_level values. */
const PE_FORCED = 0;
const PE_RC4 = 2;
const LT_FORCED_RC4 = {
  in_enc_policy: PE_FORCED,
  out_enc_policy: PE_FORCED,
  allowed_enc_level: PE_RC4,
};

function connections(t: TesseraProcess) {
  return t.events.filter((e) => e.event === "peer-connected");
}

async function seedToLibtorrent(
  name: string,
  tesseraArgs: string[],
  ltSettings: Record<string, number>,
) {
  await using s = await interopScope(name);
  const fx = await makeFixture(s.dir, MID_LAYOUT, MIB);
  const t = s.use(
    await startTessera(["seed", fx.torrent, fx.dataDir, "--port", "0", ...tesseraArgs], {
      workDir: s.dir,
      timeoutMs: STARTUP_MS,
    }),
  );
  await t.waitForEvent("seeding", (e) => e.event === "seeding");
  const saveDir = path.join(s.dir, "leech");
  const leech = s.use(
    await startLibtorrentLeecher({
      torrent: fx.torrent,
      saveDir,
      peers: [{ host: "127.0.0.1", port: t.port }],
      settings: ltSettings,
      workDir: s.dir,
      timeoutMs: DOWNLOAD_MS,
    }),
  );
  await leech.done;
  await compareTrees(fx.content, path.join(saveDir, "content"));
  const conns = connections(t);
  assert.ok(conns.length >= 1, "libtorrent never connected");
  await t.stop();
  assertNoPeerFaults(t);
  return conns;
}

/** `tessera download` from the seed at `port` (plus `args`): bytes compared, no peer blamed. */
async function downloadFrom(s: InteropScope, fx: Fixture, port: number, args: string[] = []) {
  const out = path.join(s.dir, "out");
  const t = s.use(
    await startTessera(
      ["download", fx.torrent, "-o", out, "--peer", `127.0.0.1:${port}`, "--port", "0", ...args],
      { workDir: s.dir, timeoutMs: STARTUP_MS },
    ),
  );
  const { events } = await tesseraDownload(t, DOWNLOAD_MS);
  await compareTrees(fx.content, path.join(out, "content"));
  assertNoPeerFaults(t);
  return events.filter((e) => e.event === "peer-connected");
}

describe("MSE/PE ↔ real clients", { concurrency: 2 }, () => {
  it("libtorrent leecher at its defaults → Tessera seed: MSE handshake on the first attempt", {
    timeout: 120_000,
  }, async () => {
    const conns = await seedToLibtorrent("mse-lt-default", [], {});
    // libtorrent offers RC4 and plaintext; like libtorrent's own seed we select plaintext.
    assert.equal(conns[0]?.encryption, "plaintext", JSON.stringify(conns[0]));
  });

  it("libtorrent leecher forced to RC4 → Tessera seed with --encryption require", {
    timeout: 120_000,
  }, async () => {
    const conns = await seedToLibtorrent(
      "mse-lt-forced-seed",
      ["--encryption", "require"],
      LT_FORCED_RC4,
    );
    assert.ok(
      conns.every((c) => c.encryption === "rc4"),
      JSON.stringify(conns),
    );
  });

  it("Tessera --encryption require ← libtorrent seed forced to RC4 (Tessera dials)", {
    timeout: 120_000,
  }, async () => {
    await using s = await interopScope("mse-lt-forced-leech");
    const fx = await makeFixture(s.dir, MID_LAYOUT, MIB);
    const seed = s.use(
      await startLibtorrentSeed({
        torrent: fx.torrent,
        dataDir: fx.dataDir,
        settings: LT_FORCED_RC4,
        workDir: s.dir,
        timeoutMs: STARTUP_MS,
      }),
    );
    const conns = await downloadFrom(s, fx, seed.port, ["--encryption", "require"]);
    assert.ok(conns.length >= 1);
    assert.ok(
      conns.every((c) => c.encryption === "rc4"),
      JSON.stringify(conns),
    );
  });

  it("Tessera (default policy) ← libtorrent seed at its defaults: MSE", {
    timeout: 120_000,
  }, async () => {
    await using s = await interopScope("mse-lt-default-leech");
    const fx = await makeFixture(s.dir, MID_LAYOUT, MIB);
    const seed = s.use(
      await startLibtorrentSeed({
        torrent: fx.torrent,
        dataDir: fx.dataDir,
        workDir: s.dir,
        timeoutMs: STARTUP_MS,
      }),
    );
    const [first] = await downloadFrom(s, fx, seed.port);
    // MSE on the first connection; libtorrent (prefer_rc4 off by default) selects plaintext
    // when offered both, as Tessera's `prefer` does.
    assert.ok(
      first?.encryption === "plaintext" || first?.encryption === "rc4",
      JSON.stringify(first),
    );
  });

  it("Tessera (default policy) ← Transmission seed requiring encryption (-er)", {
    timeout: 120_000,
  }, async () => {
    await using s = await interopScope("mse-tr-required");
    const fx = await makeFixture(s.dir, MID_LAYOUT, MIB);
    const seed = s.use(
      await startTransmissionSeed({
        torrent: fx.torrent,
        dataDir: fx.dataDir,
        encryption: "required",
        workDir: s.dir,
        timeoutMs: STARTUP_MS,
      }),
    );
    const [first] = await downloadFrom(s, fx, seed.port);
    assert.equal(first?.encryption, "rc4", JSON.stringify(first));
  });
  it("Tessera seed (default policy) dials a Transmission leecher requiring encryption (-er)", {
    timeout: 120_000,
  }, async () => {
    await using s = await interopScope("mse-tr-leech-required");
    // No zero-length file: Transmission 3.00 does not create them.
    const fx = await makeFixture(
      s.dir,
      MID_LAYOUT.filter((f) => f.length > 0),
      MIB,
    );
    const saveDir = path.join(s.dir, "transmission");
    // Transmission dials nothing on loopback (INTEROP.md): the seed dials it, so this is our
    // initiator against Transmission's responder.
    const tr = s.use(
      await startTransmissionLeecher({
        torrent: fx.torrent,
        saveDir,
        encryption: "required",
        workDir: s.dir,
        timeoutMs: DOWNLOAD_MS,
      }),
    );
    const t = s.use(
      await startTessera(
        ["seed", fx.torrent, fx.dataDir, "--port", "0", "--peer", `${tr.host}:${tr.port}`],
        { workDir: s.dir, timeoutMs: STARTUP_MS },
      ),
    );
    // Transmission asks for data only on its ~10 s pulse (INTEROP.md): ~15 s for 12 MB.
    await tr.done;
    await compareTrees(fx.content, path.join(saveDir, "content"));
    const conns = connections(t);
    assert.ok(conns.length >= 1, "Tessera never connected to Transmission");
    // Offered RC4 and plaintext, Transmission requiring encryption selects RC4.
    assert.ok(
      conns.every((c) => c.encryption === "rc4"),
      JSON.stringify(conns),
    );
    await t.stop();
    assertNoPeerFaults(t);
  });
});
