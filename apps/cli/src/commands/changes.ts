import { parseArgs } from "node:util";
import {
  ChangesError,
  type ExtentMap,
  fileByteSource,
  readCowHeader,
  readCowStore,
  readThinDelta,
} from "@blockferry/changes";

const USAGE = `usage:
  blockferry changes cow FILE [--json] [--chunk-bytes N] [--origin-bytes N] [--expect-exceptions N]
      Read a dm-snapshot COW device (or a copy of one): which origin chunks changed.
      --chunk-bytes from \`dmsetup table\` (CHUNK_SECTORS * 512) guards against a damaged header;
      --expect-exceptions is (ALLOC - METADATA) / CHUNK_SECTORS from \`dmsetup status\` (origin quiet).
  blockferry changes thin FILE|- [--json]
      Read \`thin_delta -m\` output (- = stdin): which pool blocks changed or were discarded.
`;

/** `blockferry changes cow|thin FILE [--json]`: works offline on a device, a file or stdin. */
export async function run(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    process.stderr.write(`blockferry changes: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return 2;
  }
  if (parsed === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    const out = parsed.kind === "cow" ? await cow(parsed) : await thin(parsed);
    process.stdout.write(out);
    return 0;
  } catch (err) {
    if (err instanceof ChangesError) {
      process.stderr.write(`blockferry changes: ${parsed.file}: ${err.message} [${err.code}]\n`);
      return 1;
    }
    if (isErrno(err)) {
      process.stderr.write(`blockferry changes: ${parsed.file}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

interface Parsed {
  kind: "cow" | "thin";
  file: string;
  json: boolean;
  chunkBytes?: number;
  originBytes?: number;
  expectExceptions?: number;
}

function parse(argv: string[]): Parsed | "help" {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
      "chunk-bytes": { type: "string" },
      "origin-bytes": { type: "string" },
      "expect-exceptions": { type: "string" },
    },
  });
  if (values.help) return "help";
  const [kind, file, ...extra] = positionals;
  if (kind !== "cow" && kind !== "thin") throw new Error(`expected "cow" or "thin", got ${JSON.stringify(kind ?? "")}`);
  if (!file) throw new Error(`missing FILE`);
  if (extra.length > 0) throw new Error(`unexpected arguments: ${extra.join(" ")}`);
  if (kind === "cow" && file === "-") throw new Error("cow needs a seekable FILE, not stdin");
  if (kind === "thin" && (values["chunk-bytes"] || values["origin-bytes"] || values["expect-exceptions"])) {
    throw new Error("--chunk-bytes, --origin-bytes and --expect-exceptions apply to cow only");
  }
  return {
    kind,
    file,
    json: values.json,
    chunkBytes: count(values["chunk-bytes"], "--chunk-bytes"),
    originBytes: count(values["origin-bytes"], "--origin-bytes"),
    expectExceptions: count(values["expect-exceptions"], "--expect-exceptions"),
  };
}

function count(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new Error(`${name} needs a whole number, got ${v}`);
  return n;
}

async function cow(p: Parsed): Promise<string> {
  const source = await fileByteSource(p.file);
  try {
    const header = await readCowHeader(source, { chunkBytes: p.chunkBytes });
    const store = await readCowStore(source, {
      chunkBytes: p.chunkBytes,
      originBytes: p.originBytes,
      expectExceptions: p.expectExceptions,
    });
    if (p.json) return `{"chunkBytes":${store.chunkBytes},"valid":true,"extents":${runsJson(store.extents)}}\n`;
    return [
      `dm-snapshot COW store, version ${header.version}, valid`,
      `chunk size      ${store.chunkBytes} bytes`,
      `exceptions      ${store.exceptionCount} (${bytes(store.extents.byteCount(store.chunkBytes))} of the origin changed)`,
      `runs            ${store.extents.runCount}`,
      `metadata areas  ${store.areaCount}`,
      "",
    ].join("\n");
  } finally {
    await source.close();
  }
}

async function thin(p: Parsed): Promise<string> {
  let delta: Awaited<ReturnType<typeof readThinDelta>>;
  if (p.file === "-") delta = await readThinDelta(process.stdin);
  else {
    const { createReadStream } = await import("node:fs");
    delta = await readThinDelta(createReadStream(p.file));
  }
  if (p.json) {
    return `{"chunkBytes":${delta.blockBytes},"data":${runsJson(delta.data)},"discard":${runsJson(delta.discard)}}\n`;
  }
  return [
    `thin_delta between thin devices ${delta.left} and ${delta.right}`,
    `block size  ${delta.blockBytes} bytes`,
    `changed     ${delta.data.chunkCount} blocks in ${delta.data.runCount} runs (${bytes(delta.data.byteCount(delta.blockBytes))})`,
    `discarded   ${delta.discard.chunkCount} blocks in ${delta.discard.runCount} runs (${bytes(delta.discard.byteCount(delta.blockBytes))})`,
    "",
  ].join("\n");
}

/** `[[first,count],...]` built piecewise: a million runs should not go through a million small arrays. */
function runsJson(map: ExtentMap): string {
  const parts: string[] = [];
  map.forEachRun((first, count) => {
    parts.push(`[${first},${count}]`);
  });
  return `[${parts.join(",")}]`;
}

function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

function isErrno(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === "string";
}
