// THE hostile-input test: hundreds of generated hostile names and paths go through validation; every value
// validation lets through, and every value at all through the quote function, is run by the real /bin/sh inside
// a generated command, and must come out byte for byte while a canary file is never created.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  blockdevSizeCommand,
  InvalidValueError,
  lvcreateSnapshotCommand,
  lvsCommand,
  shQuote,
  validateDevicePath,
  validateDomainName,
  validateLvName,
  validateRemotePath,
  validateTag,
  validateVgName,
  virshDomblklistCommand,
  virshDomstateCommand,
} from "../src/index.ts";
import { makeStubShell } from "./stub-tools.ts";

const sh = makeStubShell();
afterAll(() => sh.cleanup());
const CANARY = join(sh.dir, "CANARY");

// Pieces that break out of naive quoting, each one trying to create the canary.
const ATTACKS = [
  `'`,
  `"`,
  "`",
  "$",
  "\\",
  ";",
  "&",
  "|",
  "\n",
  "\r",
  "\t",
  " ",
  "*",
  "?",
  "[",
  "]",
  "{",
  "}",
  "(",
  ")",
  "<",
  ">",
  "#",
  "~",
  "!",
  "=",
  "%",
  "^",
  "-",
  "--",
  "..",
  ".",
  "/",
  "\0",
  "\u00e9",
  "\u202e",
  "\u{1f4a3}",
  "\uff07",
  "\u2028",
  `$(touch ${CANARY})`,
  `\`touch ${CANARY}\``,
  `'; touch ${CANARY}; '`,
  `"; touch ${CANARY}; "`,
  `\n touch ${CANARY}\n`,
  `'$(touch ${CANARY})'`,
  `\\'; touch ${CANARY} #`,
  `$((1+1))`,
  `\${IFS}`,
  `-rf`,
  `--help`,
  `../../etc/passwd`,
  `/dev/vg/../../etc`,
  `&& touch ${CANARY}`,
  `| touch ${CANARY}`,
  `> ${CANARY}`,
  `*`,
  `/*`,
  `~root`,
  `{a,b}`,
];
const hostile = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .array(fc.constantFrom(...ATTACKS, "vg", "lv", "a", "0", "_", "+"), { minLength: 1, maxLength: 6 })
      .map((a) => a.join("")),
  },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(..."ab-_.+/'\"$`;\n "), minLength: 0, maxLength: 200 }) },
  { weight: 1, arbitrary: fc.integer({ min: 120, max: 5000 }).map((n) => "a".repeat(n)) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9+_.-]{1,130}$/) },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.stringMatching(/^[A-Za-z0-9+_.:@$;'-]{0,12}$/), { maxLength: 4 })
      .map((s) => `/dev/${s.join("/")}`),
  },
);
const SAMPLES = fc.sample(hostile, { numRuns: 400, seed: 20261126 });

function accepted<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InvalidValueError) return undefined;
    throw err;
  }
}

describe("hostile input", () => {
  it("generated a few hundred samples, a good share of them dangerous", () => {
    expect(SAMPLES.length).toBe(400);
    expect(SAMPLES.filter((s) => /['"`$;\n]/.test(s)).length).toBeGreaterThan(100);
  });

  it("the quote function round-trips every string without NUL through /bin/sh, byte for byte", () => {
    let ran = 0;
    for (const value of [...SAMPLES, ...ATTACKS]) {
      if (value.includes("\0")) {
        expect(() => shQuote(value)).toThrow(InvalidValueError);
        continue;
      }
      const r = sh.run(`printf '%s\\n' ${shQuote(value)}`);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.equals(Buffer.from(`${value}\n`, "utf8"))).toBe(true);
      ran++;
    }
    expect(ran).toBeGreaterThan(350);
    expect(existsSync(CANARY)).toBe(false);
  });

  // sshd runs commands with the login shell: bash on most hypervisors, busybox ash in our lab.
  for (const shell of ["/bin/bash", "/bin/busybox"].filter((p) => existsSync(p))) {
    it(`quoted strings also survive ${shell}, all in one script`, () => {
      const values = [...SAMPLES, ...ATTACKS].filter((v) => !v.includes("\0"));
      const script = values.map((v) => `printf '%s\\0' ${shQuote(v)}`).join("\n");
      // The script is fed on stdin: one -c argument of this size would pass MAX_ARG_STRLEN (128 KiB).
      const argv = shell.endsWith("busybox") ? ["sh", "-s"] : ["-s"];
      const r = spawnSync(shell, argv, { cwd: sh.dir, input: script, maxBuffer: 1 << 26 });
      expect(r.status, r.stderr.toString()).toBe(0);
      expect(r.stdout.equals(Buffer.from(values.map((v) => `${v}\0`).join(""), "utf8"))).toBe(true);
      expect(existsSync(CANARY)).toBe(false);
    });
  }

  it("validators refuse every unsafe string, and what they accept reaches the tool as one exact argument", () => {
    let acceptedCount = 0;
    for (const value of SAMPLES) {
      const vg = accepted(() => validateVgName(value));
      const lv = accepted(() => validateLvName(value));
      const tag = accepted(() => validateTag(value));
      const dev = accepted(() => validateDevicePath(value));
      const path = accepted(() => validateRemotePath(value));
      // Nothing a shell treats specially may survive any validator.
      for (const v of [vg, lv, tag, dev, path])
        if (v !== undefined) expect(v).not.toMatch(/['"`$;&|<>()\s\\*?[\]{}~\0]/);
      if (vg) {
        acceptedCount++;
        expect(sh.run(lvsCommand({ vg })).calls[0]?.at(-1)).toBe(value);
      }
      if (lv && vg) {
        const r = sh.run(
          lvcreateSnapshotCommand({ vg, origin: lv, name: lv, sizeBytes: 4096, tags: [tag ?? validateTag("x")] }),
        );
        expect(r.calls).toHaveLength(1);
        expect(r.calls[0]?.[3]).toBe(value);
        expect(r.calls[0]?.at(-1)).toBe(`${value}/${value}`);
      }
      if (path) {
        acceptedCount++;
        expect(sh.run(blockdevSizeCommand(path)).calls).toEqual([["blockdev", "--getsize64", value]]);
      }
      if (accepted(() => validateDomainName(value)) !== undefined) {
        expect(sh.run(virshDomblklistCommand(value)).calls).toEqual([
          ["virsh", "domblklist", "--details", "--", value],
        ]);
        expect(sh.run(virshDomstateCommand(value)).calls).toEqual([["virsh", "domstate", "--", value]]);
      }
    }
    expect(acceptedCount).toBeGreaterThan(20);
    expect(existsSync(CANARY)).toBe(false);
  });

  it("the canary check itself works (an unquoted attack does create it)", () => {
    sh.run(`printf '%s\\n' $(touch ${CANARY})`);
    expect(existsSync(CANARY)).toBe(true);
  });
});
