/** BEP 53 `so` (select-only) values: `0,2,4-6`. */
import { MagnetError } from "./errors.js";

const ITEM_RE = /^(\d+)(?:-(\d+))?$/;

function bad(value: string, why: string): MagnetError {
  // Cap the echoed value: `so` can be long and the message should stay readable.
  const shown = value.length > 64 ? `${value.slice(0, 64)}...` : value;
  return new MagnetError("MAGNET_BAD_SELECT_ONLY", `so: ${why} in "${shown}"`, "so");
}

function index(digits: string, value: string): number {
  const n = Number(digits);
  if (!Number.isSafeInteger(n)) throw bad(value, `file index ${digits.slice(0, 20)} is too large`);
  return n;
}

/**
 * Parses a `so` value into inclusive `[first, last]` ranges, keeping the given order (no merge,
 * so formatting gives the same text back).
 *
 * @throws {@link MagnetError} `MAGNET_BAD_SELECT_ONLY` on an empty item, a non-numeric item or a
 *   reversed range such as `6-4`.
 */
export function parseSelectOnly(value: string): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (const item of value.split(",")) {
    const m = ITEM_RE.exec(item);
    if (m === null)
      throw bad(
        value,
        item === "" ? "empty item" : `"${item.slice(0, 20)}" is not an index or range`,
      );
    const first = index(m[1]!, value);
    const last = m[2] === undefined ? first : index(m[2], value);
    if (last < first) throw bad(value, `reversed range ${first}-${last}`);
    ranges.push([first, last]);
  }
  return ranges;
}

/**
 * Formats ranges as a `so` value; a one-file range is written as a single index.
 *
 * @throws {@link MagnetError} `MAGNET_BAD_SELECT_ONLY` when a range is not two ascending
 *   non-negative safe integers, since the result would not parse back.
 */
export function formatSelectOnly(ranges: ReadonlyArray<readonly [number, number]>): string {
  const ok = (n: number) => Number.isSafeInteger(n) && n >= 0;
  if (ranges.length === 0) throw bad("", "no ranges");
  return ranges
    .map(([first, last]) => {
      if (!ok(first) || !ok(last) || last < first) throw bad(`${first}-${last}`, "invalid range");
      return first === last ? `${first}` : `${first}-${last}`;
    })
    .join(",");
}
