import { createGunzip } from "node:zlib";
import type { Readable } from "node:stream";

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
): Promise<Buffer | undefined> {
  const gunzip = createGunzip();
  source.on("error", (err) => gunzip.destroy(err));
  source.pipe(gunzip);
  let buf: Buffer = Buffer.alloc(0);
  let total = 0;
  let longName: string | undefined;
  let skip = 0; // bytes of an unwanted entry (data and padding) still to drop
  let collect: { kind: "file" | "longname" | "pax"; size: number; padded: number } | undefined;
  try {
    for await (const chunk of gunzip) {
      total += (chunk as Buffer).length;
      if (total > maxBytes) throw new Error(`archive is larger than ${maxBytes} bytes before the file was found`);
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
          const kind = collect.kind;
          collect = undefined;
          if (kind === "file") return Buffer.from(data);
          if (kind === "longname") longName = data.toString("utf8").replace(/\0.*$/s, "");
          else longName = paxPath(data.toString("utf8")) ?? longName;
          continue;
        }
        if (buf.length < 512) break;
        const header = buf.subarray(0, 512);
        buf = buf.subarray(512);
        if (header.every((b) => b === 0)) return undefined;
        const size = readSize(header);
        const padded = Math.ceil(size / 512) * 512;
        const type = String.fromCharCode(header[156] ?? 48);
        const name = (longName ?? headerName(header)).replace(/^\.\//, "");
        if (type !== "L" && type !== "x") longName = undefined;
        if (type === "L") collect = { kind: "longname", size, padded };
        else if (type === "x") collect = { kind: "pax", size, padded };
        else if ((type === "0" || type === "\0") && wanted(name)) collect = { kind: "file", size, padded };
        else skip = padded;
      }
    }
    return undefined;
  } finally {
    gunzip.destroy();
    source.destroy();
  }
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
