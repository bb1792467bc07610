import { createGunzip } from "node:zlib";
import type { Readable } from "node:stream";

export interface TarReadOptions {
  /**
   * Read the whole archive and refuse one that holds the wanted file twice (or as a link). R's
   * untar extracts every entry in order, so the last copy is the one installed, while a reader
   * that stops at the first would judge another: what is served or installed is read this way.
   */
  whole?: boolean;
}

/**
 * Reads one file out of a .tar.gz stream and stops there. R package tarballs put
 * `<pkg>/DESCRIPTION` first, so finding a package's metadata costs a few kilobytes of a download,
 * not the whole archive. Understands ustar, GNU long names and pax headers; `maxBytes` bounds the
 * decompressed bytes read, so a gzip bomb cannot exhaust memory.
 */
export async function readFileFromTarGz(
  source: Readable,
  wanted: (path: string) => boolean,
  maxBytes: number,
  opts: TarReadOptions = {},
): Promise<Buffer | undefined> {
  const gunzip = createGunzip();
  source.on("error", (err) => gunzip.destroy(err));
  source.pipe(gunzip);
  try {
    return await readFileFromTar(gunzip, wanted, maxBytes, opts);
  } finally {
    gunzip.destroy();
    source.destroy();
  }
}

/** The same over an uncompressed tar stream (the output of `xz -dc` or `bzip2 -dc`). */
export async function readFileFromTar(
  plain: AsyncIterable<unknown>,
  wanted: (path: string) => boolean,
  maxBytes: number,
  opts: TarReadOptions = {},
): Promise<Buffer | undefined> {
  let buf: Buffer = Buffer.alloc(0);
  let total = 0;
  let longName: string | undefined;
  let skip = 0; // bytes of an unwanted entry (data and padding) still to drop
  let collect: { kind: "file" | "longname" | "pax"; size: number; padded: number; name: string } | undefined;
  let found: Buffer | undefined;
  let foundName = "";
  for await (const chunk of plain) {
    total += (chunk as Buffer).length;
    if (total > maxBytes) throw new Error(`archive is larger than ${maxBytes} bytes${found ? "" : " before the file was found"}`);
    buf = buf.length ? Buffer.concat([buf, chunk as Buffer]) : (chunk as Buffer);
    for (;;) {
      if (skip > 0) {
        const n = Math.min(skip, buf.length);
        buf = buf.subarray(n);
        skip -= n;
        if (skip > 0) break;
        continue;
      }
      if (collect) {
        if (buf.length < collect.padded) break;
        const data = buf.subarray(0, collect.size);
        buf = buf.subarray(collect.padded);
        const { kind, name } = collect;
        collect = undefined;
        if (kind === "file") {
          if (!opts.whole) return Buffer.from(data);
          if (found)
            throw new Error(
              name === foundName
                ? `the archive holds ${name} twice (R would install the last copy)`
                : `the archive holds both ${foundName} and ${name} (one package per archive)`,
            );
          found = Buffer.from(data);
          foundName = name;
        } else if (kind === "longname") longName = data.toString("utf8").replace(/\0.*$/s, "");
        else longName = paxPath(data.toString("utf8")) ?? longName;
        continue;
      }
      if (buf.length < 512) break;
      const header = buf.subarray(0, 512);
      buf = buf.subarray(512);
      if (header.every((b) => b === 0)) return found;
      const size = readSize(header);
      const padded = Math.ceil(size / 512) * 512;
      const type = String.fromCharCode(header[156] ?? 48);
      // `./pkg//DESCRIPTION` extracts to the same file as `pkg/DESCRIPTION`.
      const name = (longName ?? headerName(header)).replace(/^(\.\/)+/, "").replace(/\/{2,}/g, "/");
      if (type !== "L" && type !== "x") longName = undefined;
      if (type === "L") collect = { kind: "longname", size, padded, name };
      else if (type === "x") collect = { kind: "pax", size, padded, name };
      else if ((type === "0" || type === "\0" || type === "7") && wanted(name)) collect = { kind: "file", size, padded, name };
      else if ((type === "1" || type === "2") && wanted(name)) throw new Error(`${name} is a link in the archive, not a file`);
      else skip = padded;
    }
  }
  return found;
}

function field(header: Buffer, start: number, length: number): string {
  const raw = header.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? raw.length : end).toString("utf8");
}

function headerName(header: Buffer): string {
  const name = field(header, 0, 100);
  const magic = field(header, 257, 6);
  const prefix = magic.startsWith("ustar") ? field(header, 345, 155) : "";
  return prefix ? `${prefix}/${name}` : name;
}

function readSize(header: Buffer): number {
  // Base-256 sizes (GNU) set the top bit; R package files are never that large, refuse them.
  if (((header[124] ?? 0) & 0x80) !== 0) throw new Error("tar entry too large");
  const text = field(header, 124, 12).trim();
  const size = text === "" ? 0 : parseInt(text, 8);
  if (!Number.isFinite(size) || size < 0) throw new Error("corrupt tar header");
  return size;
}

function paxPath(text: string): string | undefined {
  let rest = text;
  let path: string | undefined;
  while (rest.length) {
    const sp = rest.indexOf(" ");
    const len = parseInt(rest.slice(0, sp), 10);
    if (!Number.isFinite(len) || len <= 0 || sp < 0) break;
    const rec = rest.slice(sp + 1, len - 1);
    rest = rest.slice(len);
    const eq = rec.indexOf("=");
    if (rec.slice(0, eq) === "path") path = rec.slice(eq + 1);
  }
  return path;
}
