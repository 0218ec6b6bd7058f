// Live on a lab host: snapshot an LV, write scattered chunks to the origin, read the COW device back over
// SSH through a ByteSource, and check the parsed map against per-chunk hashes of origin and snapshot.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ByteSource, ExtentMap, readCowStore } from "../../packages/changes/src/index.ts";
import { labExec } from "../lab/harness.ts";
import { labPair } from "../lab/pairs.ts";

const { hosts } = labPair();
const host = hosts[0] as (typeof hosts)[number];
const sh = async (cmd: string, timeoutMs = 300_000) =>
  (await labExec(host, `set -euo pipefail; ${cmd}`, { timeoutMs })).stdout;

const CHUNK = 4096;
const ORIGIN_MIB = 32;
const CHUNKS = (ORIGIN_MIB * 2 ** 20) / CHUNK;
const ORIGIN = "chgorigin";
const SNAP = "chgsnap";
const COW_DEV = `/dev/mapper/vg0-${SNAP}-cow`;

/** Reads a device on the host with O_DIRECT dd, base64 over the lab's SSH exec: a remote ByteSource. */
function remoteDevice(device: string): ByteSource & { reads: number } {
  const source = {
    reads: 0,
    async size() {
      return Number((await sh(`blockdev --getsize64 ${device}`)).trim());
    },
    async read(offset: number, length: number) {
      source.reads++;
      // O_DIRECT wants whole sectors: read the covering sectors, return the asked-for bytes
      const start = Math.floor(offset / 512) * 512;
      const end = Math.ceil((offset + length) / 512) * 512;
      const b64 = await sh(
        `dd if=${device} iflag=direct,skip_bytes,count_bytes bs=65536 skip=${start} count=${end - start} status=none | base64 -w0`,
      );
      const bytes = new Uint8Array(Buffer.from(b64.trim(), "base64"));
      return bytes.subarray(offset - start, Math.min(bytes.length, offset - start + length));
    },
  };
  return source;
}

/** Chunk numbers whose contents differ between two devices, from per-chunk sha256 sums taken on the host. */
async function differingChunks(a: string, b: string): Promise<number[]> {
  const out = await sh(
    `rm -rf /tmp/chg && mkdir -p /tmp/chg/a /tmp/chg/b
     (cd /tmp/chg/a && dd if=${a} iflag=direct bs=1M status=none | split -b ${CHUNK} -a 6 -d - c && sha256sum c* > ../a.sum)
     (cd /tmp/chg/b && dd if=${b} iflag=direct bs=1M status=none | split -b ${CHUNK} -a 6 -d - c && sha256sum c* > ../b.sum)
     paste /tmp/chg/a.sum /tmp/chg/b.sum | awk '$1 != $3 { print NR - 1 }'
     wc -l < /tmp/chg/a.sum >&2; rm -rf /tmp/chg`,
  );
  return out.split("\n").filter(Boolean).map(Number);
}

/** Runs of adjacent chunk numbers as [first, count], in order. */
function chunkRuns(chunks: number[]): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  for (const c of [...chunks].sort((a, b) => a - b)) {
    const last = runs.at(-1);
    if (last && last[0] + last[1] === c) last[1]++;
    else runs.push([c, 1]);
  }
  return runs;
}

describe("dm-snapshot COW store on a live lab host", () => {
  // scattered single chunks, one run, and the first and last chunks of the origin
  const written = new Set<number>([0, CHUNKS - 1]);
  let x = 12345;
  while (written.size < 250) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    written.add(x % CHUNKS);
  }
  for (let c = 3000; c < 3100; c++) written.add(c);

  beforeAll(async () => {
    await sh(`lvcreate -qy -L ${ORIGIN_MIB}m -n ${ORIGIN} vg0 >/dev/null`);
    await sh(`dd if=/dev/urandom of=/dev/vg0/${ORIGIN} bs=1M count=${ORIGIN_MIB} oflag=direct status=none`);
    await sh(`lvcreate -qy -s -c 4k -L 8m -n ${SNAP} vg0/${ORIGIN} >/dev/null`);
    // One write per run of adjacent chunks, by busybox's static dd: a dynamically linked GNU dd costs its TCG guest
    // ten times longer to start, and a process per chunk made this setup take half a minute.
    const script = chunkRuns([...written])
      .map(
        ([first, count]) =>
          `busybox dd if=/dev/urandom of=/dev/vg0/${ORIGIN} bs=${CHUNK} seek=${first} count=${count} oflag=direct conv=notrunc status=none`,
      )
      .join("\n");
    await labExec(host, "bash -s", { input: `set -e\n${script}\nsync\n`, timeoutMs: 300_000 });
  });

  afterAll(async () => {
    await sh(`lvremove -qy vg0/${SNAP} vg0/${ORIGIN} >/dev/null 2>&1 || true`);
  });

  it("finds exactly the chunks that differ, and as many as dmsetup status counts", async () => {
    const status = (await sh(`dmsetup status vg0-${SNAP}`)).trim();
    const m = /snapshot (\d+)\/(\d+) (\d+)$/.exec(status);
    expect(m, status).not.toBeNull();
    const expected = (Number(m?.[1]) - Number(m?.[3])) / (CHUNK / 512);

    const table = (await sh(`dmsetup table vg0-${SNAP}`)).trim();
    expect(table).toMatch(/ snapshot \d+:\d+ \d+:\d+ P 8$/);

    const cow = remoteDevice(COW_DEV);
    const store = await readCowStore(cow, {
      chunkBytes: CHUNK,
      originBytes: ORIGIN_MIB * 2 ** 20,
      expectExceptions: expected,
    });
    expect(store.exceptionCount).toBe(expected);
    expect(store.exceptionCount).toBe(written.size);
    // only the header and a couple of metadata areas were read, never the data chunks
    expect(cow.reads).toBeLessThanOrEqual(1 + store.areaCount + 8);

    const differ = await differingChunks(`/dev/vg0/${ORIGIN}`, `/dev/vg0/${SNAP}`);
    expect(differ.length).toBeGreaterThan(0);
    for (const c of differ) expect(store.extents.has(c), `chunk ${c} differs but is not in the map`).toBe(true);
    // random writes make every written chunk differ, so the map is exactly the differing chunks
    expect(store.extents.toJSON()).toEqual(ExtentMap.fromChunks(differ).toJSON());
    expect(store.extents.toJSON()).toEqual(ExtentMap.fromChunks(written).toJSON());
  });
});
