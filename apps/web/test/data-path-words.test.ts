import { DATA_PATH_CHOICES, dataPathSummary } from "@blockferry/contracts/vocabulary";
import { expect, it } from "vitest";
import { fixFor, hostFixFor } from "../src/features/wizard/precheck-fixes.ts";

const REASON = "direct path not available: lab1 cannot reach lab2 at its migration address 10.77.0.2:22";

it("says which data path ran, why auto took the relay, or what was asked before any copy", () => {
  expect(dataPathSummary({ requested: "auto", ran: "direct", reason: null })).toBe("direct");
  expect(dataPathSummary({ requested: "auto", ran: "relay", reason: REASON })).toBe(`relay: ${REASON}`);
  expect(dataPathSummary({ requested: "relay", ran: "relay", reason: null })).toBe("relay");
  expect(dataPathSummary({ requested: "direct", ran: null, reason: null })).toBe("direct (not decided yet)");
  expect(dataPathSummary({ requested: "relay", ran: null, reason: null })).toBe("relay");
  expect(Object.keys(DATA_PATH_CHOICES)).toEqual(["auto", "direct", "relay"]);
});

it("links a direct path precheck to the destination's migration address, and to the data path choice", () => {
  expect(hostFixFor("direct path", 7)).toEqual({
    href: "/hosts/7?edit=migration-address",
    label: "Set the destination's migration address",
  });
  expect(hostFixFor("target room", 7)).toBeNull();
  expect(fixFor("direct path")).toMatchObject({ step: 1, field: "wizard-data-path" });
});
