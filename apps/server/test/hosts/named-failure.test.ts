import { describe, expect, it } from "vitest";
import { hostNamedMessage } from "../../src/hosts/named-failure.ts";
import { HostUnreachableError } from "../../src/hosts/transport/errors.ts";

const hosts = [
  { name: "lab1", endpoint: "root@127.0.0.1:4649" },
  { name: "lab2", endpoint: "root@127.0.0.1:46495" },
];

describe("host-named failure messages", () => {
  it("leads with the host's name, keeps the address as detail, and says the socket error in words", () => {
    const err = new HostUnreachableError("root@127.0.0.1:46495", "connect ECONNREFUSED 127.0.0.1:46495");
    expect(hostNamedMessage(err.message, hosts)).toBe("cannot reach lab2 (root@127.0.0.1:46495): connection refused");
  });

  it("does not take a longer port for a shorter one, nor name a host twice", () => {
    const once = hostNamedMessage("dd on root@127.0.0.1:4649 exited with 1; retried on root@127.0.0.1:46495", hosts);
    expect(once).toBe("dd on lab1 (root@127.0.0.1:4649) exited with 1; retried on lab2 (root@127.0.0.1:46495)");
    expect(hostNamedMessage(once, hosts)).toBe(once);
  });

  it("leaves messages without addresses or socket codes alone", () => {
    expect(hostNamedMessage("lab2 has not answered for 30 s", hosts)).toBe("lab2 has not answered for 30 s");
    expect(hostNamedMessage("read ECONNRESET", [])).toBe("connection reset");
  });
});
