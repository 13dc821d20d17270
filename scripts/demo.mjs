#!/usr/bin/env node
// The README's main job, on loopback: make ~256 MiB of random content, create its torrent, seed it
// from one Tessera process, download it with the CLI in another (progress bar on a terminal), and
// verify the result. Everything lives in a temporary directory that is removed afterwards.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, open, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../bin/tessera.js", import.meta.url));
const SIZE = Number(process.env.DEMO_MIB ?? 256) * 1024 * 1024;

function tessera(args, stdio = "inherit") {
  return spawn(process.execPath, [BIN, ...args], { stdio });
}

function exited(child) {
  return new Promise((resolve) =>
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1))),
  );
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function writeRandom(file, bytes) {
  const fh = await open(file, "w");
  try {
    for (let done = 0; done < bytes; ) {
      const n = Math.min(4 << 20, bytes - done);
      await fh.write(randomBytes(n));
      done += n;
    }
  } finally {
    await fh.close();
  }
}

const work = await mkdtemp(path.join(tmpdir(), "tessera-demo-"));
let seed;
try {
  const content = path.join(work, "seed", "demo-content");
  await mkdir(path.join(content, "videos"), { recursive: true });
  console.log(`Making ${SIZE >> 20} MiB of random content in ${content}`);
  await writeRandom(path.join(content, "videos", "big.bin"), Math.floor(SIZE * 0.75));
  await writeRandom(path.join(content, "small.bin"), SIZE - Math.floor(SIZE * 0.75) - 12345);
  await writeRandom(path.join(content, "notes.txt"), 12345);

  const torrent = path.join(work, "demo-content.torrent");
  if ((await exited(tessera(["create", content, "-o", torrent]))) !== 0)
    throw new Error("create failed");

  const port = await freePort();
  console.log(`Seeding from one process on 127.0.0.1:${port}`);
  seed = tessera(
    ["seed", torrent, path.join(work, "seed"), "--port", String(port), "--json"],
    ["ignore", "pipe", "inherit"],
  );
  await new Promise((resolve, reject) => {
    let buf = "";
    seed.stdout.on("data", (d) => {
      buf += d;
      if (buf.includes('"event":"seeding"')) resolve();
    });
    seed.once("exit", () => reject(new Error("the seed exited early")));
  });

  console.log("Downloading it in another process:");
  const t0 = performance.now();
  const code = await exited(
    tessera([
      "download",
      torrent,
      "-o",
      path.join(work, "download"),
      "--peer",
      `127.0.0.1:${port}`,
    ]),
  );
  const secs = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`download exited with ${code}`);
  console.log(
    `Downloaded ${SIZE >> 20} MiB in ${secs.toFixed(2)} s (${(SIZE / 1e6 / secs).toFixed(0)} MB/s, process start to verified completion)`,
  );

  console.log("Verifying the download independently:");
  if ((await exited(tessera(["verify", torrent, path.join(work, "download")]))) !== 0)
    throw new Error("verify failed");
  console.log("Demo complete: the downloaded bytes match the torrent.");
} catch (e) {
  console.error(`demo failed: ${e.message}`);
  process.exitCode = 1;
} finally {
  seed?.kill("SIGINT");
  if (seed) await exited(seed);
  await rm(work, { recursive: true, force: true });
}
