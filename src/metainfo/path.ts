/**
 * File path policy: sanitise, never trust. Modelled on libtorrent's `sanitize_append_path_element`
 * so that the layout on disk matches what libtorrent and Transmission produce for ordinary torrents,
 * while no hostile path can leave the download directory:
 *
 * - each component is decoded as UTF-8; invalid sequences become `_`;
 * - `/`, `\`, NUL and other control characters (U+0000–U+001F, U+007F) become `_`;
 * - a drive-letter prefix (`C:`) becomes `C_`;
 * - empty, `.` and `..` components are dropped (so `../../etc/passwd` is `etc/passwd` inside the
 *   torrent's directory), as is a leading `/` (an absolute path is made relative);
 * - a component longer than 255 bytes is shortened, keeping its extension;
 * - a file whose path ends up empty is named `_`;
 * - duplicate paths (and a file that collides with another file's directory) get a `.N` suffix
 *   before the extension, in torrent order, as libtorrent does.
 *
 * The joined result is therefore always a relative path of ordinary names. Storage still checks
 * at open time that no directory on the way is a symlink planted outside (see storage/).
 */

/** Longest component in bytes (the common file-system limit). */
export const MAX_COMPONENT_BYTES = 255;

const utf8Strict = new TextDecoder("utf-8", { fatal: true });
const utf8 = new TextEncoder();

/** Decode bytes as UTF-8, replacing every invalid sequence with `_`. */
export function decodeUtf8Lossy(bytes: Uint8Array): string {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    return new TextDecoder("utf-8").decode(bytes).replaceAll("\uFFFD", "_");
  }
}

/** Whether bytes are valid UTF-8. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  try {
    utf8Strict.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * Sanitise one path component. Returns `undefined` when the component must be dropped
 * (empty, `.` or `..`).
 */
export function sanitizeComponent(raw: string): string | undefined {
  let s = raw.replace(/[\u0000-\u001f\u007f/\\]/g, "_");
  if (/^[A-Za-z]:/.test(s)) s = `${s[0]}_${s.slice(2)}`;
  if (s === "" || s === "." || s === "..") return undefined;
  return truncateComponent(s);
}

/** Shorten a component to {@link MAX_COMPONENT_BYTES} UTF-8 bytes, keeping a short extension. */
function truncateComponent(s: string): string {
  if (utf8.encode(s).length <= MAX_COMPONENT_BYTES) return s;
  const dot = s.lastIndexOf(".");
  const ext = dot > 0 && s.length - dot <= 10 ? s.slice(dot) : "";
  let stem = s.slice(0, s.length - ext.length);
  const budget = MAX_COMPONENT_BYTES - utf8.encode(ext).length;
  // Cut by code points so no surrogate pair is split.
  const cps = Array.from(stem);
  let bytes = 0;
  let keep = 0;
  for (const cp of cps) {
    const n = utf8.encode(cp).length;
    if (bytes + n > budget) break;
    bytes += n;
    keep++;
  }
  stem = cps.slice(0, keep).join("");
  return stem + ext;
}

/** Sanitise a list of components; the result may be empty. */
export function sanitizePath(components: readonly string[]): string[] {
  const out: string[] = [];
  for (const c of components) {
    const s = sanitizeComponent(c);
    if (s !== undefined) out.push(s);
  }
  return out;
}

/** A directory (or file) name in the tree of a torrent's paths. */
interface PathNode {
  /** Names below this one; present once something is known to live inside it. */
  children: Map<string, PathNode> | undefined;
  /** Next `.N` suffix to try per colliding name, so renaming never rescans taken numbers. */
  nextSuffix: Map<string, number> | undefined;
}

const newNode = (): PathNode => ({ children: undefined, nextSuffix: undefined });

function child(node: PathNode, name: string): PathNode {
  node.children ??= new Map();
  let c = node.children.get(name);
  if (c === undefined) {
    c = newNode();
    node.children.set(name, c);
  }
  return c;
}

/**
 * Rename duplicate paths in place, in order: the second `a/b.txt` becomes `a/b.1.txt`, and a
 * file that has the same path as another file's directory is renamed likewise. `skip[i]` marks
 * entries (padding files) that are never written and so cannot collide.
 *
 * Linear in the total number of components: paths go into a tree (never joined into prefix
 * strings, which made a 40 000-component path cost gigabytes), and the next free suffix of a
 * name is remembered (so 100 000 copies of one path do not retry 1, 2, 3, ... each time).
 */
export function resolveDuplicatePaths(paths: string[][], skip?: readonly boolean[]): void {
  const root = newNode();
  // Every directory of every path (padding files' too) exists before any file claims a name.
  for (const p of paths) {
    let node = root;
    for (let i = 0; i < p.length - 1; i++) node = child(node, p[i]!);
  }
  for (let i = 0; i < paths.length; i++) {
    const p = paths[i]!;
    if (skip?.[i] || p.length === 0) continue;
    let parent = root;
    for (let k = 0; k < p.length - 1; k++) parent = parent.children!.get(p[k]!)!;
    const last = p[p.length - 1]!;
    parent.children ??= new Map();
    if (!parent.children.has(last)) {
      parent.children.set(last, newNode());
      continue;
    }
    const dot = last.lastIndexOf(".");
    const stem = dot > 0 ? last.slice(0, dot) : last;
    const ext = dot > 0 ? last.slice(dot) : "";
    parent.nextSuffix ??= new Map();
    for (let n = parent.nextSuffix.get(last) ?? 1; ; n++) {
      const candidate = withSuffix(stem, `.${n}${ext}`);
      if (!parent.children.has(candidate)) {
        parent.children.set(candidate, newNode());
        parent.nextSuffix.set(last, n + 1);
        paths[i] = [...p.slice(0, -1), candidate];
        break;
      }
    }
  }
}

/** `stem + suffix`, the stem shortened so the result still fits {@link MAX_COMPONENT_BYTES}. */
function withSuffix(stem: string, suffix: string): string {
  const budget = MAX_COMPONENT_BYTES - utf8.encode(suffix).length;
  if (utf8.encode(stem).length <= budget) return stem + suffix;
  let bytes = 0;
  let out = "";
  for (const cp of stem) {
    const n = utf8.encode(cp).length;
    if (bytes + n > budget) break;
    bytes += n;
    out += cp;
  }
  return out + suffix;
}
