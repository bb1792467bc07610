/**
 * Name-confusion (typosquat) detection for PyPI project names.
 *
 * A requested name that is not itself popular but looks like a popular one is reported with the
 * popular name it imitates. "Popular" means the 15,000 most downloaded projects shipped in
 * data/pypi-popular.tsv (built by scripts/build-popular-list.mjs). Everything here is offline: the
 * check runs before pip resolves anything and must not depend on the network.
 *
 * Evidence, cheapest first (the best match wins, then the more popular target):
 *  - Unicode look-alikes: PEP 508 names are ASCII, so a non-ASCII letter can only be there to look
 *    like something else; it is folded to its ASCII twin (or a wildcard) before matching.
 *  - visual skeletons: digits and letter pairs that read alike (0/o, 1/l, rn/m, vv/w).
 *  - separator games: the same letters with `-`, `_` or `.` moved, added or removed.
 *  - noise words added around a popular name: python3-, py-, -py, -dev, -new, -2, a plural `s`...
 *  - one or two typing slips (transposition, doubled or dropped letter, keyboard neighbour),
 *    with a budget that shrinks with the length of the part that differs and with the target's
 *    popularity: squatters aim at the head of the list, while the tail is full of genuine projects
 *    one letter apart from each other.
 *
 * The list is also what keeps real projects quiet: a name in it is only flagged for a pure typing
 * slip of something at least POPULARITY_GAP times more downloaded.
 *
 * bench/typosquat-eval.ts measures recall on real squats and false positives on real projects;
 * every threshold below was chosen there.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { normalizeName } from "../core/names.js";
import { packageRoot } from "../core/paths.js";

export interface TyposquatMatch {
  /** The name checked, as given. */
  name: string;
  /** The popular project name it looks like (as in the list). */
  imitates: string;
  /** Its rank (1 = most downloaded). */
  imitatedRank: number;
  /** Short words: "transposition", "doubled letter", "affix", "homoglyph", ... */
  technique: string;
}

export interface PopularList {
  size: number;
  rankOf(normalizedName: string): number | undefined;
}

// ---------------------------------------------------------------------------------------------
// The list

/** The list as loaded: names by rank, plus the indexes the detector builds on first use. */
class RankedNames implements PopularList {
  private readonly position = new Map<string, number>();
  private nameIndex: NameIndex | undefined;
  private editIndex: DeletionIndex | undefined;

  /** `names` must be normalised, distinct and sorted by `ranks`. */
  constructor(
    readonly names: readonly string[],
    readonly ranks: readonly number[],
  ) {
    for (let i = 0; i < names.length; i++) this.position.set(names[i] ?? "", i);
  }

  static fromEntries(entries: ReadonlyArray<readonly [number, string]>): RankedNames {
    const best = new Map<string, number>();
    for (const [rank, raw] of entries) {
      const name = normalizeName(raw.trim());
      if (!name || !Number.isFinite(rank)) continue;
      const prev = best.get(name);
      if (prev === undefined || rank < prev) best.set(name, rank);
    }
    const sorted = [...best].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
    return new RankedNames(
      sorted.map((e) => e[0]),
      sorted.map((e) => e[1]),
    );
  }

  get size(): number {
    return this.names.length;
  }

  rankOf(normalizedName: string): number | undefined {
    const i = this.position.get(normalizeName(normalizedName));
    return i === undefined ? undefined : this.ranks[i];
  }

  positionOf(name: string): number | undefined {
    return this.position.get(name);
  }

  get index(): NameIndex {
    return (this.nameIndex ??= new NameIndex(this.names));
  }

  get edits(): DeletionIndex {
    return (this.editIndex ??= new DeletionIndex(this.names, this.ranks));
  }
}

/**
 * A view of a list with some names taken out. The evaluation uses it to ask "would this popular
 * project be flagged if nobody had heard of it?" without rebuilding the indexes 12,000 times.
 */
class ExcludingList implements PopularList {
  constructor(
    readonly base: RankedNames,
    readonly excluded: ReadonlySet<string>,
  ) {}
  get size(): number {
    let n = this.base.size;
    for (const name of this.excluded) if (this.base.positionOf(name) !== undefined) n--;
    return n;
  }
  rankOf(normalizedName: string): number | undefined {
    const n = normalizeName(normalizedName);
    return this.excluded.has(n) ? undefined : this.base.rankOf(n);
  }
}

let loaded: RankedNames | undefined;

/** The shipped top-15,000 list. Immutable data, so it is parsed once per process. */
export function loadPopularList(): PopularList {
  if (loaded) return loaded;
  const text = readFileSync(join(packageRoot(), "data", "pypi-popular.tsv"), "utf8");
  return (loaded = parseShippedList(text) ?? RankedNames.fromEntries(parseEntries(text)));
}

/**
 * Fast path for the file the generator writes (normalised names, ascending ranks): one native
 * split instead of per-line normalisation and a sort. Anything unexpected falls back to the
 * general path, so a hand-edited file still loads correctly, only slower.
 */
function parseShippedList(text: string): RankedNames | undefined {
  if (/[^\t\n0-9a-z-]|--|-\t|\t-|-\n/.test(text)) return undefined;
  const names: string[] = [];
  const ranks: number[] = [];
  let previous = 0;
  // A hand-rolled scan: measurably cheaper than split() here, and loading is on every run's path.
  for (let i = 0; i < text.length; ) {
    let rank = 0;
    let c = text.charCodeAt(i);
    while (c >= 48 && c <= 57) {
      rank = rank * 10 + (c - 48);
      c = text.charCodeAt(++i);
    }
    if (c !== 9 || rank <= previous) return undefined;
    const start = i + 1;
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    if (end === start) return undefined;
    names.push(text.slice(start, end));
    ranks.push(rank);
    previous = rank;
    i = end + 1;
  }
  return new RankedNames(names, ranks);
}

function parseEntries(text: string): Array<[number, string]> {
  const entries: Array<[number, string]> = [];
  for (const line of text.split("\n")) {
    const tab = line.indexOf("\t");
    if (tab > 0) entries.push([Number(line.slice(0, tab)), line.slice(tab + 1)]);
  }
  return entries;
}

/** A list from explicit entries (tests, or a site's own popularity data). Names are normalised. */
export function popularListFrom(entries: Array<[rank: number, name: string]>): PopularList {
  return RankedNames.fromEntries(entries);
}

/** The same list without some names (normalised on the way in); shares the parent's indexes. */
export function popularListExcluding(list: PopularList, names: Iterable<string>): PopularList {
  const excluded = new Set<string>(list instanceof ExcludingList ? list.excluded : []);
  for (const n of names) excluded.add(normalizeName(n));
  return new ExcludingList(baseOf(list), excluded);
}

function baseOf(list: PopularList): RankedNames {
  if (list instanceof RankedNames) return list;
  if (list instanceof ExcludingList) return list.base;
  // The detector must enumerate the list to index it, which the interface alone cannot do.
  throw new TypeError("typosquat: make the PopularList with loadPopularList() or popularListFrom()");
}

// ---------------------------------------------------------------------------------------------
// Character knowledge

/**
 * Non-ASCII letters that render like an ASCII one in common fonts (Cyrillic, Greek, Armenian,
 * Latin extensions). Anything non-ASCII that is not here becomes a wildcard, so an unknown
 * look-alike still costs only one substitution.
 */
const CONFUSABLE: Record<string, string> = {
  // Cyrillic
  а: "a", в: "b", г: "r", е: "e", ё: "e", з: "3", и: "u", й: "u", к: "k", л: "n", м: "m", н: "h",
  о: "o", п: "n", р: "p", с: "c", т: "t", у: "y", х: "x", ч: "4", ш: "w", щ: "w", ь: "b", ы: "bl",
  ѕ: "s", і: "i", ї: "i", ј: "j", һ: "h", ԁ: "d", ԛ: "q", ԝ: "w", ӏ: "l", ү: "y", ҳ: "x", ɡ: "g",
  // Greek
  α: "a", β: "b", γ: "y", δ: "d", ε: "e", η: "n", ι: "i", κ: "k", μ: "u", ν: "v", ο: "o", ρ: "p",
  σ: "o", τ: "t", υ: "u", χ: "x", ω: "w", ϲ: "c", ϳ: "j",
  // Armenian
  ա: "w", ց: "g", ո: "n", ս: "u", օ: "o", հ: "h", զ: "q",
  // Latin letters that NFD does not decompose
  ı: "i", ȷ: "j", ł: "l", ø: "o", đ: "d", ħ: "h", ŧ: "t", ƅ: "b", ɑ: "a", ɩ: "i", ʟ: "l", ᴏ: "o",
  // Punctuation that reads as a separator
  "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
  "\u00b7": ".", "\u2024": ".",
};

/** Stands for a non-ASCII character with no ASCII twin: never equal to a real name character. */
const WILDCARD = "*";

/** Digits that read as letters, and ASCII letters that read as each other once lower-cased. */
const LOOKS_LIKE: ReadonlyArray<readonly [string, string]> = [
  ["0", "o"], ["1", "l"], ["1", "i"], ["2", "z"], ["3", "e"], ["4", "a"], ["5", "s"], ["6", "b"],
  ["6", "g"], ["7", "t"], ["8", "b"], ["9", "g"], ["9", "q"], ["l", "i"], ["g", "q"],
];
const lookalikePairs = new Set(LOOKS_LIKE.flatMap(([a, b]) => [a + b, b + a]));

/** QWERTY neighbours, the most common source of one-letter slips. */
const KEY_ROWS = ["1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm"];
const neighbours = new Map<string, Set<string>>();
for (let r = 0; r < KEY_ROWS.length; r++) {
  const row = KEY_ROWS[r] ?? "";
  for (let c = 0; c < row.length; c++) {
    const set = new Set<string>();
    const add = (rr: number, cc: number): void => {
      const ch = KEY_ROWS[rr]?.[cc];
      if (ch) set.add(ch);
    };
    add(r, c - 1);
    add(r, c + 1);
    // Each row sits about half a key to the right of the one above it.
    add(r - 1, c);
    add(r - 1, c + 1);
    add(r + 1, c - 1);
    add(r + 1, c);
    neighbours.set(row[c] ?? "", set);
  }
}
const isNeighbour = (a: string, b: string): boolean => neighbours.get(a)?.has(b) ?? false;
const isDigit = (ch: string): boolean => ch >= "0" && ch <= "9";
const isLetter = (ch: string): boolean => ch >= "a" && ch <= "z";

/** The requested name folded to ASCII, remembering whether anything had to be folded. */
function foldToAscii(raw: string): { text: string; folded: boolean } {
  // Decided on the raw text: NFKC below turns full-width "ｒｅｑｕｅｓｔｓ" into plain ASCII.
  const folded = /[^\x00-\x7f]/.test(raw);
  let out = "";
  // NFKC first: full-width letters and ligatures are compatibility forms of plain ASCII.
  for (const ch of raw.normalize("NFKC").toLowerCase()) {
    if (ch.charCodeAt(0) < 0x80) {
      out += ch;
      continue;
    }
    const mapped = CONFUSABLE[ch];
    if (mapped !== undefined) {
      out += mapped;
      continue;
    }
    // Accented letters: drop the combining marks (é -> e).
    const base = ch.normalize("NFD").replace(/\p{M}+/gu, "");
    out += base.length > 0 && /^[\x20-\x7e]+$/.test(base) ? base : WILDCARD;
  }
  return { text: normalizeName(out), folded };
}

const squash = (name: string): string => (name.includes("-") ? name.replaceAll("-", "") : name);

const DIGIT_LOOKS_LIKE = "olzeasbtbg";

/**
 * What a name looks like at a glance, separators dropped. Only ever compared for equality, so
 * collapsing l/i or rn/m cannot make two unrelated names "close", only identical-looking ones equal.
 */
function skeletonKey(name: string): string {
  return squash(name).replace(LOOKALIKE_RUN, (m) => {
    if (m === "rn") return "m";
    if (m === "vv") return "w";
    if (m === "i") return "l";
    return DIGIT_LOOKS_LIKE.charAt(Number(m));
  });
}
const LOOKALIKE_RUN = /rn|vv|[0-9i]/g;

// ---------------------------------------------------------------------------------------------
// Noise affixes

// What squatters (and confused users) put around a popular name without changing what it names.
// Chosen by measurement in bench/typosquat-eval.ts. Left out on purpose:
//  - "tools", "api", "sdk", "client", "utils", "async": popular projects are named
//    "<popular>-client" and so on, and those plugins look exactly like combosquats;
//  - a glued "py" prefix or suffix ("pykerberos", "brotlipy"): wrapping a library as pyX or Xpy is
//    how dozens of genuine projects are named, and no reported squat needed it;
//  - glued version digits ("gitdb2", "pymc3", "tensorrt-cu13"): that is how families name releases.
const NOISE_PREFIX = /^(?:python[23]?|py[23]?|install|lib|(?:19|20)\d\d)-/;
const NOISE_GLUED_PREFIX = /^python[23]?(?=[a-z])/;
const NOISE_SUFFIX = /-(?:python[23]?|py[23]?|lib|dev|latest|beta|new|upgrade|update|pro|v?\d|(?:19|20)\d\d)$/;
const NOISE_GLUED_SUFFIX = /(?:dev|pro|s)$/;
const MIN_STEM = 3;
/** A glued suffix is only noise after a real word: "aws" and "boss" are not plurals. */
const MIN_GLUED_WORD = 3;

/**
 * The candidate with the noise a squatter adds peeled off one layer at a time, every layer kept:
 * "python3-requests-py" -> ["requests-py", "requests", "request"]. Empty when there is no noise.
 */
function stripNoise(name: string): string[] {
  const stems: string[] = [];
  let s = name;
  for (;;) {
    const before = s;
    const tryStrip = (next: string): void => {
      if (next.length >= MIN_STEM && next !== s) {
        s = next;
        stems.push(s);
      }
    };
    tryStrip(s.replace(NOISE_PREFIX, ""));
    tryStrip(s.replace(NOISE_GLUED_PREFIX, ""));
    tryStrip(s.replace(NOISE_SUFFIX, ""));
    const glued = NOISE_GLUED_SUFFIX.exec(s);
    if (glued) {
      const stem = s.slice(0, glued.index);
      const word = stem.slice(stem.lastIndexOf("-") + 1);
      if (word.length >= MIN_GLUED_WORD && !(glued[0] === "s" && stem.endsWith("s"))) tryStrip(stem);
    }
    if (s === before) return stems;
  }
}

const TARGET_PY_PREFIX = /^(?:python[23]?|py[23]?)-?(?=[a-z0-9]{3})/;
const TARGET_PY_SUFFIX = /(?<=[a-z0-9]{3})-?(?:python[23]?|py[23]?)$/;

/**
 * The forms of a popular name that a noisy candidate is compared with: the name itself (always
 * first), and the name without its own py/python marker, so that "python-openssl" meets
 * "pyopenssl" and "pythonkafka" meets "kafka-python" (squatters swap one marker for another).
 */
function targetKeys(name: string): string[] {
  if (!name.includes("py")) return [squash(name)];
  const keys = new Set([squash(name)]);
  const noPrefix = name.replace(TARGET_PY_PREFIX, "");
  if (noPrefix !== name) keys.add(squash(noPrefix));
  const noSuffix = name.replace(TARGET_PY_SUFFIX, "");
  if (noSuffix !== name) keys.add(squash(noSuffix));
  return [...keys];
}

// ---------------------------------------------------------------------------------------------
// Indexes

/**
 * Exact-key lookup to list positions, most popular first. A Map to the first position plus a
 * `next` chain in a typed array, rather than a Map of arrays: 15,000 small arrays per index were
 * most of the garbage made while indexing.
 */
class KeyChains {
  private readonly head = new Map<string, number>();
  private readonly next: Int32Array;

  constructor(size: number) {
    this.next = new Int32Array(size).fill(-1);
  }

  /** Positions must be added from the least popular to the most, so chains come out by rank. */
  addFront(key: string, pos: number): void {
    this.next[pos] = this.head.get(key) ?? -1;
    this.head.set(key, pos);
  }

  *get(key: string): Generator<number> {
    for (let pos = this.head.get(key) ?? -1; pos >= 0; pos = this.next[pos] ?? -1) yield pos;
  }
}

/** Exact-key indexes: separator-free form, visual skeleton, affix keys. */
class NameIndex {
  readonly bySquash: KeyChains;
  readonly bySkeleton: KeyChains;
  /** Affix keys other than the squashed name itself (few names have them). */
  private readonly extraKeys = new Map<string, number[]>();

  constructor(names: readonly string[]) {
    this.bySquash = new KeyChains(names.length);
    this.bySkeleton = new KeyChains(names.length);
    for (let pos = names.length - 1; pos >= 0; pos--) {
      const name = names[pos] ?? "";
      this.bySquash.addFront(squash(name), pos);
      this.bySkeleton.addFront(skeletonKey(name), pos);
    }
    names.forEach((name, pos) => {
      for (const key of targetKeys(name).slice(1)) {
        const list = this.extraKeys.get(key);
        if (list) list.push(pos);
        else this.extraKeys.set(key, [pos]);
      }
    });
  }

  /** Popular names whose affix keys include `key`. */
  *byKey(key: string): Generator<number> {
    yield* this.bySquash.get(key);
    yield* this.extraKeys.get(key) ?? [];
  }
}

/**
 * SymSpell-style deletion index: two strings within k edits share a string obtained by deleting
 * at most k characters from each. Only targets that may be matched with two edits (see
 * withinBudget: popular enough and long enough) get their 2-deletions indexed; the rest get
 * 1-deletions, which keeps the index near 300k keys. Keys are 30-bit hashes in an open-addressing
 * table rather than a Map of strings; a collision only costs one extra alignment, since every hit
 * is verified.
 */
class DeletionIndex {
  private readonly keys: Int32Array;
  private readonly values: Int32Array;
  private readonly mask: number;
  private readonly seen: Uint32Array;
  private stamp = 0;

  constructor(names: readonly string[], ranks: readonly number[]) {
    const depth = (pos: number): number => {
      const name = names[pos] ?? "";
      return name.length >= TWO_EDIT_MIN_LENGTH && (ranks[pos] ?? Infinity) <= TWO_EDIT_MAX_RANK ? 2 : 1;
    };
    let total = 0;
    for (let pos = 0; pos < names.length; pos++) total += deletionCount((names[pos] ?? "").length, depth(pos));
    let cap = 1024;
    // Load factor at most 2/3: linear probing stays short, and a smaller table stays in cache.
    while (cap < total * 1.5) cap *= 2;
    this.keys = new Int32Array(cap);
    this.values = new Int32Array(cap);
    this.mask = cap - 1;
    this.seen = new Uint32Array(names.length);
    const keys = this.keys;
    const values = this.values;
    const mask = this.mask;
    for (let pos = 0; pos < names.length; pos++) {
      const count = deletionHashes(names[pos] ?? "", depth(pos));
      for (let c = 0; c < count; c++) {
        const key = hashOut[c] ?? 1;
        let slot = key & mask;
        // The same key twice for one name (a repeated deletion) is stored once.
        while (keys[slot] !== 0 && !(keys[slot] === key && values[slot] === pos)) slot = (slot + 1) & mask;
        keys[slot] = key;
        values[slot] = pos;
      }
    }
  }

  /** Positions of the indexed names that may be within `maxEdits` of `query` (a superset). */
  candidates(query: string, maxEdits: number): number[] {
    this.stamp = (this.stamp + 1) >>> 0 || 1;
    const out: number[] = [];
    const count = deletionHashes(query, maxEdits);
    for (let c = 0; c < count; c++) {
      const key = hashOut[c] ?? 1;
      let slot = key & this.mask;
      while (this.keys[slot] !== 0) {
        if (this.keys[slot] === key) {
          const pos = this.values[slot] ?? 0;
          if (this.seen[pos] !== this.stamp) {
            this.seen[pos] = this.stamp;
            out.push(pos);
          }
        }
        slot = (slot + 1) & this.mask;
      }
    }
    return out;
  }
}

/** Two edits are only considered for names this long... */
const TWO_EDIT_MIN_LENGTH = 7;
/** ...and this popular: below that, two edits away is mostly other genuine projects. */
const TWO_EDIT_MAX_RANK = 2000;
/** One arbitrary (non-slip) edit: the same trade-off, see withinBudget. */
const ARBITRARY_EDIT_MAX_RANK = 2000;
const ARBITRARY_EDIT_LONG_MAX_RANK = 5000;
const SHORT_ARBITRARY_EDIT_MAX_RANK = 100;
/** A 4-letter target must be at least this popular (or the slip inside a family name). */
const SHORT_NAME_MAX_RANK = 2500;
/** Vowel swaps ("raquests", "djanga") read as slips only against names this popular. */
const VOWEL_SWAP_MAX_RANK = 2000;
const deletionCount = (n: number, k: number): number => 1 + n + (k >= 2 ? (n * (n - 1)) / 2 : 0);

/**
 * Hashes of `s` with up to `k` characters deleted, written to `hashOut` (returns the count). A
 * polynomial hash (mod 2^32) composes from prefix sums, so each deletion costs O(1) instead of
 * rehashing the string. Arithmetic stays in int32 and keys in 30 bits so that V8 keeps them
 * unboxed: boxed doubles made garbage collection the largest cost of building the index.
 */
const HASH_BASE = 0x01000193;
const MAX_NAME = 256;
const powers = new Int32Array(MAX_NAME + 1);
powers[0] = 1;
for (let i = 1; i <= MAX_NAME; i++) powers[i] = Math.imul(powers[i - 1] ?? 0, HASH_BASE);
const prefix = new Int32Array(MAX_NAME + 1);
/** Shared output buffer: every caller consumes it before the next call (no re-entrancy). */
let hashOut = new Int32Array(1024);

/** murmur3's finaliser (the polynomial's low bits are weak and the table indexes by them), to 30 bits, never 0. */
function finish(h: number, len: number): number {
  h = (h + Math.imul(len, 0x9e3779b1)) | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & 0x3fffffff || 1;
}

function deletionHashes(s: string, k: number): number {
  const n = Math.min(s.length, MAX_NAME);
  const need = deletionCount(n, k);
  if (hashOut.length < need) hashOut = new Int32Array(need * 2);
  const out = hashOut;
  const pre = prefix;
  const pw = powers;
  for (let i = 0; i < n; i++) pre[i + 1] = (Math.imul(pre[i] ?? 0, HASH_BASE) + s.charCodeAt(i)) | 0;
  let count = 0;
  out[count++] = finish(pre[n] ?? 0, n);
  if (k < 1) return count;
  for (let i = 0; i < n; i++) {
    // Deleting either letter of a doubled pair gives the same string: emit it once.
    const dupI = i > 0 && s.charCodeAt(i) === s.charCodeAt(i - 1);
    const left = pre[i] ?? 0;
    // Hash of s[i+1, n): pre[n] - pre[i+1] * B^(n-i-1).
    const tail = ((pre[n] ?? 0) - Math.imul(pre[i + 1] ?? 0, pw[n - i - 1] ?? 0)) | 0;
    if (!dupI) out[count++] = finish((Math.imul(left, pw[n - i - 1] ?? 0) + tail) | 0, n - 1);
    if (k < 2 || dupI) continue;
    for (let j = i + 1; j < n; j++) {
      if (j > i + 1 && s.charCodeAt(j) === s.charCodeAt(j - 1)) continue;
      const mid = ((pre[j] ?? 0) - Math.imul(pre[i + 1] ?? 0, pw[j - i - 1] ?? 0)) | 0;
      const end = ((pre[n] ?? 0) - Math.imul(pre[j + 1] ?? 0, pw[n - j - 1] ?? 0)) | 0;
      const h = (Math.imul(left, pw[n - i - 2] ?? 0) + Math.imul(mid, pw[n - j - 1] ?? 0) + end) | 0;
      out[count++] = finish(h, n - 2);
    }
  }
  return count;
}

// ---------------------------------------------------------------------------------------------
// Edit alignment

type OpKind = "sub" | "ins" | "del" | "swap";
interface EditOp {
  kind: OpKind;
  /** Position in the candidate: the extra letter (ins), the replacing letter (sub), the pair (swap). */
  i: number;
  /** Position in the target: the missing letter (del), the replaced letter (sub), the pair (swap). */
  j: number;
}

const VOWELS = new Set(["a", "e", "i", "o", "u", "y"]);

/** How a one-letter edit reads to a person; "inserted letter" and "substituted letter" are arbitrary. */
function insertionKind(c: string, i: number): string {
  const x = c[i] ?? "";
  const prev = c[i - 1] ?? "";
  const next = c[i + 1] ?? "";
  if (x === "-") return "separator";
  if (x === WILDCARD) return "homoglyph";
  if (x === prev || x === next) return "doubled letter";
  if (isNeighbour(x, prev) || isNeighbour(x, next)) return "keyboard neighbour";
  return "inserted letter";
}

/** The letter at c[i] replaced t[j]. */
function substitutionKind(c: string, i: number, t: string, j: number): string {
  const x = c[i] ?? "";
  const y = t[j] ?? "";
  if (x === "-" || y === "-") return "separator";
  if (x === WILDCARD) return "homoglyph";
  if (lookalikePairs.has(x + y)) return isDigit(x) || isDigit(y) ? "digit for letter" : "homoglyph";
  if (isDigit(x) && isDigit(y)) {
    // A digit inside a word ("s3transfer") is part of the name, not a release number.
    const inWord = isLetter(c[i - 1] ?? "") && isLetter(c[i + 1] ?? "");
    return inWord && isNeighbour(x, y) ? "keyboard neighbour" : "digit swap";
  }
  if (isNeighbour(x, y)) return "keyboard neighbour";
  if (VOWELS.has(x) && VOWELS.has(y)) return "vowel swap";
  return "substituted letter";
}

/** Typing slips a human makes (or a squatter imitates), as opposed to an arbitrary change. */
const SLIPS = new Set([
  "transposition", "moved letter", "doubled letter", "dropped letter", "keyboard neighbour", "vowel swap",
  "digit for letter", "homoglyph", "separator",
]);

/**
 * Optimal-string-alignment distance (adjacent transpositions cost one), or undefined past `max`.
 * Among the alignments of minimal distance it keeps one with the fewest arbitrary edits, so that
 * "requesgt" reads as a keyboard slip plus a dropped letter rather than two random substitutions:
 * naming the slip is what lets short names demand a recognisable one.
 */
function align(c: string, t: string, max: number): Array<{ op: EditOp; kind: string }> | undefined {
  const m = c.length;
  const n = t.length;
  if (Math.abs(m - n) > max) return undefined;
  // Cost = 16 per edit + 1 per arbitrary edit: distance first, arbitrariness as the tie-break.
  const ARB = 1;
  const EDIT = 16;
  const w = n + 1;
  const d = new Int32Array((m + 1) * w);
  const at = (i: number, j: number): number => d[i * w + j] ?? 0;
  const weight = (kind: string): number => EDIT + (SLIPS.has(kind) ? 0 : ARB);
  for (let i = 1; i <= m; i++) d[i * w] = at(i - 1, 0) + weight(insertionKind(c, i - 1));
  for (let j = 1; j <= n; j++) d[j] = at(0, j - 1) + weight(t[j - 1] === "-" ? "separator" : "dropped letter");
  for (let i = 1; i <= m; i++) {
    let rowMin = Infinity;
    for (let j = 1; j <= n; j++) {
      const x = c[i - 1] ?? "";
      const y = t[j - 1] ?? "";
      let v = x === y ? at(i - 1, j - 1) : at(i - 1, j - 1) + weight(substitutionKind(c, i - 1, t, j - 1));
      v = Math.min(v, at(i - 1, j) + weight(insertionKind(c, i - 1)));
      v = Math.min(v, at(i, j - 1) + weight(y === "-" ? "separator" : "dropped letter"));
      if (i > 1 && j > 1 && x === t[j - 2] && c[i - 2] === y && x !== y) v = Math.min(v, at(i - 2, j - 2) + EDIT);
      d[i * w + j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (Math.floor(rowMin / EDIT) > max) return undefined;
  }
  if (Math.floor(at(m, n) / EDIT) > max) return undefined;

  const ops: Array<{ op: EditOp; kind: string }> = [];
  let i = m;
  let j = n;
  while (i > 0 || j > 0) {
    const here = at(i, j);
    const x = c[i - 1] ?? "";
    const y = t[j - 1] ?? "";
    if (i > 0 && j > 0 && x === y && at(i - 1, j - 1) === here) {
      i--;
      j--;
    } else if (i > 1 && j > 1 && x === t[j - 2] && c[i - 2] === y && x !== y && at(i - 2, j - 2) + EDIT === here) {
      ops.push({ op: { kind: "swap", i: i - 2, j: j - 2 }, kind: x === "-" || y === "-" ? "separator" : "transposition" });
      i -= 2;
      j -= 2;
    } else if (i > 0 && j > 0 && x !== y && at(i - 1, j - 1) + weight(substitutionKind(c, i - 1, t, j - 1)) === here) {
      ops.push({ op: { kind: "sub", i: i - 1, j: j - 1 }, kind: substitutionKind(c, i - 1, t, j - 1) });
      i--;
      j--;
    } else if (i > 0 && at(i - 1, j) + weight(insertionKind(c, i - 1)) === here) {
      ops.push({ op: { kind: "ins", i: i - 1, j }, kind: insertionKind(c, i - 1) });
      i--;
    } else {
      ops.push({ op: { kind: "del", i, j: j - 1 }, kind: y === "-" ? "separator" : "dropped letter" });
      j--;
    }
  }
  ops.reverse();
  // A letter taken out in one place and put back a few places away ("bo3to", "botoceor") is one
  // slip, not two: fold such a pair into a single "moved letter".
  if (ops.length === 2) {
    const [a, b] = ops;
    if (a && b) {
      const ins = a.op.kind === "ins" ? a : b.op.kind === "ins" ? b : undefined;
      const del = a.op.kind === "del" ? a : b.op.kind === "del" ? b : undefined;
      if (ins && del && c[ins.op.i] === t[del.op.j] && c[ins.op.i] !== "-" && Math.abs(ins.op.i - del.op.j) <= 3) {
        return [{ op: del.op, kind: "moved letter" }];
      }
    }
  }
  return ops;
}

/**
 * Length of what actually differs once shared leading and trailing components are set aside.
 * "pytest-cov" vs "pytest-vcr" differ in a 3-letter word, not in a 10-letter name: the budget
 * must follow the differing part, or every plugin family would look like a nest of typos.
 */
function coreLength(c: string, t: string): number {
  const a = c.split("-");
  const b = t.split("-");
  let lo = 0;
  while (lo < a.length - 1 && lo < b.length - 1 && a[lo] === b[lo]) lo++;
  let hi = 0;
  while (hi < a.length - 1 - lo && hi < b.length - 1 - lo && a[a.length - 1 - hi] === b[b.length - 1 - hi]) hi++;
  return b.slice(lo, b.length - hi).join("-").length;
}

/**
 * Whether an alignment is strong enough evidence against a target of rank `rank` whose
 * differing part is `core` letters long.
 *  - In a 3- or 4-letter name almost every one-letter change is another real project ("six",
 *    "sip", "sh", "lunr"/"lund"), so short names need a visual look-alike, a top target, or the
 *    context of a family ("py-codrd").
 *  - In 5- and 6-letter names one arbitrary letter is how distinct projects differ (simpy/sympy,
 *    willow/pillow), so only recognisable slips count, except against the very top.
 *  - Arbitrary edits, vowel swaps and double slips are only weighed against the head of the
 *    list: squatters aim there, while the tail is dense with genuine projects a letter apart.
 */
function withinBudget(
  ops: ReadonlyArray<{ op: EditOp; kind: string }>,
  core: number,
  rank: number,
  inFamily: boolean,
  targetLength: number,
): boolean {
  const kinds = ops.map((o) => o.kind);
  if (kinds.length === 0) return false;
  // A changed version digit (pyqt5/pyqt6, elasticsearch7/8) is how families name their releases;
  // a digit inside a word ("s4transfer") is classed as a keyboard slip by substitutionKind.
  if (kinds.includes("digit swap")) return false;
  const isSlip = (k: string): boolean => SLIPS.has(k) && !(k === "vowel swap" && rank > VOWEL_SWAP_MAX_RANK);
  const slips = kinds.every(isSlip);
  const visual = kinds.every((k) => k === "digit for letter" || k === "homoglyph");
  if (kinds.length === 1) {
    const k = kinds[0] ?? "";
    // Inside a family ("sphinx-rdt-theme", "discord-pyy") the shared words already say which
    // project is meant, so a clear slip in a short word is enough.
    if (core <= 3) return visual || (inFamily && (k === "transposition" || k === "doubled letter"));
    if (core === 4) {
      if (visual) return true;
      // Anagrams of 4 letters ("vein"/"vine") and a lost letter ("east"/"feast") are too common.
      return slips && k !== "dropped letter" && k !== "moved letter" && (inFamily || rank <= SHORT_NAME_MAX_RANK);
    }
    // The very top of the list is where squatters concentrate: there one arbitrary letter in a
    // 5- or 6-letter name ("pandar", "botoa3", "awsclie") is suspicious enough.
    if (core <= 6) {
      if (rank <= SHORT_ARBITRARY_EDIT_MAX_RANK) return true;
      // A short word with a letter missing is usually another word ("roman"/"uroman").
      if (k === "dropped letter") return inFamily || rank <= ARBITRARY_EDIT_MAX_RANK;
      return slips;
    }
    if (slips) return true;
    return rank <= ARBITRARY_EDIT_MAX_RANK || (core >= 10 && rank <= ARBITRARY_EDIT_LONG_MAX_RANK);
  }
  if (kinds.length === 2 && rank <= TWO_EDIT_MAX_RANK && core >= TWO_EDIT_MIN_LENGTH) {
    // Two letters missing together at either end is a different word ("tgraph"/"altgraph",
    // "distl"/"distlib"), not two slips.
    const [a, b] = ops;
    if (a && b && a.op.kind === "del" && b.op.kind === "del" && b.op.j === a.op.j + 1) {
      if (a.op.j === 0 || b.op.j === targetLength - 1) return false;
    }
    return slips || core >= 10;
  }
  return false;
}

function techniqueOf(kinds: readonly string[]): string {
  const named = kinds.map((k) => (k === "inserted letter" || k === "substituted letter" ? "edit distance" : k));
  return [...new Set(named)].join(", ");
}

// ---------------------------------------------------------------------------------------------
// Detection

/** One piece of evidence; lower cost wins, then the more popular target. */
interface Candidate {
  pos: number;
  cost: number;
  technique: string;
  /** A single pure typing slip or look-alike: the only kind that may flag a popular name. */
  pureSlip: boolean;
}

/**
 * A popular name is only reported when what it resembles is this many times more downloaded, and
 * only for a pure slip: families such as boto/boto3, attr/attrs, jwt/pyjwt are separate real
 * projects that differ by exactly the affixes and plurals squatters also use.
 */
const POPULARITY_GAP = 100;
const PURE_SLIPS = new Set(["transposition", "doubled letter", "keyboard neighbour", "digit for letter", "homoglyph"]);
/**
 * Separators moved, added or dropped, and nothing else, only count against the top 1,000. Below
 * that, the bare and hyphenated spellings are often two genuine projects (ip-db and ipdb, ml-x and
 * mlx, html-builder and htmlbuilder), and every separator squat in the public lists
 * (bench/typosquat-eval.ts) aimed at a top-1,000 name.
 */
const SEPARATOR_MAX_RANK = 1000;
/** Dropping a trailing version digit ("urllib" for urllib3) is only suspicious for the very top. */
const DIGIT_DROP_MAX_RANK = 100;

/**
 * The popular project `name` imitates, or undefined. `name` is the requested project name as
 * typed; `exempt` receives its PEP 503 form and wins over everything (allowlisted and internal
 * names are never reported).
 */
export function detectTyposquat(
  name: string,
  list: PopularList,
  opts?: { exempt?: (normalizedName: string) => boolean },
): TyposquatMatch | undefined {
  const base = baseOf(list);
  const trimmed = name.trim();
  const plain = normalizeName(trimmed);
  if (!plain || opts?.exempt?.(plain)) return undefined;
  const { text: folded, folded: hadNonAscii } = foldToAscii(trimmed);
  if (!folded || !/[a-z0-9]/.test(folded)) return undefined;

  // A non-ASCII name that folds exactly onto a popular name is the clearest case there is.
  if (hadNonAscii) {
    const rank = list.rankOf(folded);
    if (rank !== undefined) return { name, imitates: folded, imitatedRank: rank, technique: "homoglyph" };
  }

  const names = base.names;
  /** The rank of a possible target, or undefined when it is the name itself or excluded. */
  const rankAt = (pos: number): number | undefined => {
    const target = names[pos];
    if (target === undefined || target === folded) return undefined;
    return list === base ? base.ranks[pos] : list.rankOf(target);
  };

  const pick: { best?: Candidate; rank: number } = { rank: Infinity };
  const offer = (cand: Candidate): void => {
    const rank = rankAt(cand.pos);
    if (rank === undefined) return;
    const best = pick.best;
    if (!best || cand.cost < best.cost || (cand.cost === best.cost && rank < pick.rank)) {
      // Whatever matched, a non-ASCII name is at heart a look-alike.
      pick.best = hadNonAscii ? { ...cand, technique: "homoglyph", pureSlip: true } : cand;
      pick.rank = rank;
    }
  };
  const offerAll = (positions: Iterable<number>, cost: number, technique: string, pureSlip: boolean): void => {
    for (const pos of positions) offer({ pos, cost, technique, pureSlip });
  };

  const index = base.index;
  const squashed = squash(folded);
  const stems = stripNoise(folded);

  // Same letters, other separators: "pythondateutil", "python-date-util".
  offerAll(index.bySquash.get(squashed), 0.5, "separator", false);

  // Same picture: "reque5ts", "rnatplotlib", "jeIlyfish".
  for (const pos of index.bySkeleton.get(skeletonKey(folded))) {
    const target = names[pos] ?? "";
    const digits = folded.replace(/[^0-9]/g, "") !== target.replace(/[^0-9]/g, "");
    offer({ pos, cost: 0.6, technique: digits ? "digit for letter" : "homoglyph", pureSlip: true });
  }

  // Noise around a popular name: "requests-py", "python3-dateutil", "torchvisions".
  for (const stem of stems) offerAll(index.byKey(squash(stem)), 1, "affix", false);
  // The popular name's own plural or version digit left off: "request", "typing-extension", "urllib".
  offerAll(index.bySquash.get(squashed + "s"), 1, "affix", false);
  for (let d = 0; d <= 9; d++) {
    for (const pos of index.bySquash.get(squashed + String(d))) {
      if ((base.ranks[pos] ?? Infinity) <= DIGIT_DROP_MAX_RANK) offer({ pos, cost: 1, technique: "affix", pureSlip: false });
    }
  }

  // Typing slips, in the name as given and in what is left once its noise is peeled off
  // ("colouramas" is colourama plus a plural; "aiohtttps" is a tripled letter plus one).
  const searchSlips = (text: string, extraCost: number): void => {
    const maxEdits = text.length >= TWO_EDIT_MIN_LENGTH - 1 ? 2 : 1;
    for (const pos of base.edits.candidates(text, maxEdits)) {
      const rank = rankAt(pos);
      if (rank === undefined) continue;
      const target = names[pos] ?? "";
      const ops = align(text, target, 2);
      if (!ops || ops.length === 0) continue;
      const kinds = ops.map((o) => o.kind);
      const core = coreLength(text, target);
      const lookalike = hadNonAscii && kinds.length === 1 && kinds[0] === "homoglyph";
      if (!lookalike && !withinBudget(ops, core, rank, core < target.length, target.length)) continue;
      // Noise plus a slip is two tricks at once: only believable against a long, top-ranked name.
      if (extraCost > 0 && (kinds.length > 1 || core < TWO_EDIT_MIN_LENGTH || rank > TWO_EDIT_MAX_RANK)) continue;
      const pureSlip = extraCost === 0 && kinds.length === 1 && PURE_SLIPS.has(kinds[0] ?? "");
      const technique = extraCost === 0 ? techniqueOf(kinds) : `affix, ${techniqueOf(kinds)}`;
      offer({ pos, cost: kinds.length + extraCost, technique, pureSlip });
    }
  };
  searchSlips(folded, 0);
  for (const stem of stems) searchSlips(stem, 1);

  const found = pick.best;
  if (!found) return undefined;
  if (found.technique === "separator" && pick.rank > SEPARATOR_MAX_RANK) return undefined;
  const ownRank = hadNonAscii ? undefined : list.rankOf(plain);
  if (ownRank !== undefined && !(found.pureSlip && pick.rank * POPULARITY_GAP < ownRank)) return undefined;
  return { name, imitates: names[found.pos] ?? "", imitatedRank: pick.rank, technique: found.technique };
}
