import { describe, expect, it } from "vitest";
import { probeMigrationAddressCommand } from "../src/index.ts";

const publicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk3xB0wJ7yq0s9t1oQ0P5q3ZtqJmH2x2l1Qy4Vf0g6c";

describe("the migration address probe's wait", () => {
  it("is 10 s unless the caller (the dry-run prechecks) asks for less; only whole seconds 1..60", () => {
    expect(probeMigrationAddressCommand({ host: "10.77.0.2", port: 22, publicKey })).toContain("ssh-keyscan -T 10 ");
    expect(probeMigrationAddressCommand({ host: "10.77.0.2", port: 22, publicKey, timeoutSeconds: 3 })).toContain(
      "ssh-keyscan -T 3 ",
    );
    for (const bad of [0, 61, 2.5, Number.NaN])
      expect(() => probeMigrationAddressCommand({ host: "h", port: 22, publicKey, timeoutSeconds: bad })).toThrow(
        /keyscan timeout/,
      );
  });
});
