// privateKeyPath: only a regular file under the key directory, read without ever blocking the server.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidInputError } from "../../src/errors.ts";
import { MAX_KEY_FILE_BYTES, readKeyFile } from "../../src/hosts/trust/key-file.ts";

let root: string;
let keyDir: string;
let outside: string;
const refusal = () => `privateKeyPath must name a regular file under ${keyDir}`;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "bf-keyfile-"));
  keyDir = join(root, "keys");
  outside = join(root, "elsewhere");
  mkdirSync(join(keyDir, "sub"), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(keyDir, "id"), "KEY INSIDE");
  writeFileSync(join(keyDir, "sub", "id2"), "KEY IN SUB");
  writeFileSync(join(outside, "secret"), "NOT FOR YOU");
  execFileSync("mkfifo", [join(keyDir, "fifo")]);
  symlinkSync(join(outside, "secret"), join(keyDir, "escape"));
  symlinkSync(outside, join(keyDir, "escape-dir"));
  symlinkSync(join(keyDir, "id"), join(keyDir, "alias"));
  writeFileSync(join(keyDir, "huge"), Buffer.alloc(MAX_KEY_FILE_BYTES + 1, 65));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const refused = async (path: string, message = refusal()) => {
  const err = await readKeyFile(path, keyDir).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InvalidInputError);
  expect((err as Error).message).toBe(message);
};

describe("readKeyFile", () => {
  it("reads a regular file inside the key directory, by absolute path, relative path or an inside symlink", async () => {
    expect(await readKeyFile(join(keyDir, "id"), keyDir)).toBe("KEY INSIDE");
    expect(await readKeyFile("sub/id2", keyDir)).toBe("KEY IN SUB");
    expect(await readKeyFile(join(keyDir, "alias"), keyDir)).toBe("KEY INSIDE");
  });

  it("refuses a FIFO at once instead of waiting for a writer", async () => {
    const t0 = performance.now();
    await refused(join(keyDir, "fifo"));
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it("refuses paths outside the directory, .. and symlinks out of it, with one message whether or not they exist", async () => {
    await refused(join(outside, "secret"));
    await refused(join(outside, "no-such-file"));
    await refused("/nonexistent/dir/key");
    await refused(join(keyDir, "..", "elsewhere", "secret"));
    await refused("../elsewhere/secret");
    await refused(join(keyDir, "escape"));
    await refused(join(keyDir, "escape-dir", "secret"));
    await refused(join(keyDir, "escape-dir", "missing"));
    await refused("/etc/passwd");
    await refused(keyDir);
    await refused(join(keyDir, "sub"));
  });

  it("inside the directory, says plainly that a file is missing", async () => {
    await refused(join(keyDir, "missing"), `key file ${join(keyDir, "missing")} not found`);
  });

  it("caps the size", async () => {
    await expect(readKeyFile(join(keyDir, "huge"), keyDir)).rejects.toThrow(/larger than 65536 bytes/);
  });

  it("refuses everything when the key directory does not exist", async () => {
    await expect(readKeyFile(join(root, "gone", "id"), join(root, "gone"))).rejects.toThrow(
      `privateKeyPath must name a regular file under ${join(root, "gone")}`,
    );
  });
});
