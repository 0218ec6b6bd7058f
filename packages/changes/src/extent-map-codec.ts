import { ExtentMapFormatError } from "./errors.ts";
import { type ExtentMap, ExtentMapBuilder, MAX_CHUNK_END } from "./extent-map.ts";

// Compact form for storing a job's change map in SQLite:
//   byte 0        format version (1)
//   varint        run count
//   per run       varint gap, varint (count - 1)
// where gap = first - previous end, minus 1 after the first run (runs never touch, so gap >= 1 there).
// Varints are LEB128 over exact doubles (up to 2^53). Worst case (alternating single chunks) costs 2 bytes
// a run; a few long runs cost a few bytes in total.

const FORMAT_VERSION = 1;

export function encodeExtentMap(map: ExtentMap): Buffer {
  let out = Buffer.allocUnsafe(16 + map.runCount * 4);
  let pos = 0;
  const put = (v: number): void => {
    if (pos + 8 > out.length) {
      const bigger = Buffer.allocUnsafe(out.length * 2);
      out.copy(bigger, 0, 0, pos);
      out = bigger;
    }
    while (v >= 0x80) {
      out[pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    out[pos++] = v;
  };
  out[pos++] = FORMAT_VERSION;
  put(map.runCount);
  let prevEnd = -1;
  map.forEachRun((first, count) => {
    put(prevEnd < 0 ? first : first - prevEnd - 1);
    put(count - 1);
    prevEnd = first + count;
  });
  return Buffer.from(out.subarray(0, pos));
}

export function decodeExtentMap(buf: Uint8Array): ExtentMap {
  let pos = 0;
  const get = (): number => {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (pos >= buf.length) throw new ExtentMapFormatError("extent map ends inside a number");
      const b = buf[pos++] as number;
      v += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (v > MAX_CHUNK_END) throw new ExtentMapFormatError("extent map number beyond 2^53");
        return v;
      }
      mul *= 0x80;
    }
    throw new ExtentMapFormatError("extent map number longer than 8 bytes");
  };
  if (buf.length === 0 || buf[0] !== FORMAT_VERSION) {
    throw new ExtentMapFormatError(`unknown extent map format ${buf[0] ?? "(empty)"}`);
  }
  pos = 1;
  const runs = get();
  // Each run takes at least two bytes: refuse counts the buffer cannot hold before allocating anything.
  if (runs * 2 > buf.length - pos)
    throw new ExtentMapFormatError(`extent map claims ${runs} runs in ${buf.length} bytes`);
  const b = new ExtentMapBuilder();
  let prevEnd = 0;
  for (let i = 0; i < runs; i++) {
    const first = i === 0 ? get() : prevEnd + get() + 1;
    const count = get() + 1;
    if (first + count > MAX_CHUNK_END) throw new ExtentMapFormatError("extent map run beyond 2^53");
    b.add(first, count);
    prevEnd = first + count;
  }
  if (pos !== buf.length) throw new ExtentMapFormatError(`${buf.length - pos} trailing bytes after extent map`);
  return b.build();
}
