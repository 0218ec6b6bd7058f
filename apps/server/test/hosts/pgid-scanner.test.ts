import { PGID_MARKER } from "@blockferry/lvm";
import { describe, expect, it } from "vitest";
import { PgidScanner } from "../../src/hosts/transport/pgid-scanner.ts";

function scan(chunks: string[]): { pgid: Array<number | null>; data: string } {
  const pgid: Array<number | null> = [];
  let data = "";
  const s = new PgidScanner(
    (p) => pgid.push(p),
    (c) => {
      data += c.toString("latin1");
    },
    100,
  );
  for (const c of chunks) s.push(Buffer.from(c, "latin1"));
  s.end();
  return { pgid, data };
}

describe("PgidScanner", () => {
  it("takes the marker line out and passes the rest through", () => {
    expect(scan([`${PGID_MARKER}123\nerr\n`])).toEqual({ pgid: [123], data: "err\n" });
  });
  it("finds the marker split across chunks", () => {
    const m = `${PGID_MARKER}4567\n`;
    expect(scan([m.slice(0, 3), m.slice(3, 9), `${m.slice(9)}x`])).toEqual({ pgid: [4567], data: "x" });
  });
  it("lets login-shell noise before the marker through (a noisy ~/.bashrc)", () => {
    expect(scan(["bash: pyenv: command not found\nmore", ` noise${PGID_MARKER}99\nafter`])).toEqual({
      pgid: [99],
      data: "bash: pyenv: command not found\nmore noiseafter",
    });
  });
  it("gives up after the limit, or at the end, and loses nothing", () => {
    const long = `${"y".repeat(150)}\n`;
    expect(scan([long, "tail"])).toEqual({ pgid: [null], data: `${long}tail` });
    expect(scan(["no marker"])).toEqual({ pgid: [null], data: "no marker" });
  });
});
