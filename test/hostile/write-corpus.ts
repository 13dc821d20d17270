/**
 * Writes the checked-in part of the hostile corpus: test/fixtures/hostile/*.torrent and
 * index.json (file → expected error or sanitised outcome). Run after editing corpus.ts:
 *
 *   npx tsc -p tsconfig.json && node dist/test/hostile/write-corpus.js
 *
 * (node --test loads this file too: it only writes when started directly.)
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { CORPUS, type Expect } from "./corpus.js";

export const HOSTILE_DIR = fileURLToPath(
  new URL("../../../test/fixtures/hostile/", import.meta.url),
);

export interface IndexEntry {
  file: string;
  why: string;
  expect: Expect;
}

function main(): void {
  mkdirSync(HOSTILE_DIR, { recursive: true });
  const index: IndexEntry[] = [];
  for (const e of CORPUS) {
    if (e.generated) continue;
    writeFileSync(`${HOSTILE_DIR}${e.file}`, e.build());
    index.push({
      file: e.file,
      why: e.why,
      expect: typeof e.expect === "function" ? e.expect() : e.expect,
    });
  }
  writeFileSync(`${HOSTILE_DIR}index.json`, `${JSON.stringify(index, null, 2)}\n`);
  console.log(`wrote ${index.length} files and index.json to ${HOSTILE_DIR}`);
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain && process.env.NODE_TEST_CONTEXT === undefined) main();
