import { describe, expect, it } from "vitest";
import { allInOrder } from "../../src/jobs/all-in-order.ts";

const later = <T>(ms: number, value: T, fail = false) =>
  new Promise<T>((resolve, reject) => setTimeout(() => (fail ? reject(new Error(String(value))) : resolve(value)), ms));

describe("allInOrder", () => {
  it("answers in the given order, values and promises alike", async () => {
    expect(await allInOrder([later(20, "a"), "b", later(5, 3), null])).toEqual(["a", "b", 3, null]);
  });

  it("throws the first failure in the given order, not the first to arrive, once every question settled", async () => {
    let slowDone = false;
    const slow = later(30, "first", true).finally(() => {
      slowDone = true;
    });
    await expect(allInOrder([slow, later(1, "second", true)])).rejects.toThrow("first");
    expect(slowDone).toBe(true);
  });
});
