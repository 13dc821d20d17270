/**
 * The registry of fuzz targets. Adding a decoder is one file in this folder exporting a
 * `FuzzTarget` and one line here (see test/fuzz/README.md).
 */
import type { AnyTarget } from "../engine.js";
import { bencodeTarget } from "./bencode.js";
import { extensionsTarget } from "./extensions.js";
import { magnetTarget } from "./magnet.js";
import { metainfoTarget } from "./metainfo.js";
import { mseTarget } from "./mse.js";
import { resumeTarget } from "./resume.js";
import { trackerTarget } from "./tracker.js";
import { wireTarget } from "./wire.js";

export const TARGETS: readonly AnyTarget[] = [
  bencodeTarget,
  metainfoTarget,
  magnetTarget,
  wireTarget,
  trackerTarget,
  extensionsTarget,
  resumeTarget,
  mseTarget,
];

export function targetNamed(name: string): AnyTarget {
  const t = TARGETS.find((x) => x.name === name);
  if (t === undefined) {
    throw new Error(`no fuzz target ${name}; known: ${TARGETS.map((x) => x.name).join(", ")}`);
  }
  return t;
}
