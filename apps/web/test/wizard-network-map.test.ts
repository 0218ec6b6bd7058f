import type { MissingNetwork } from "@blockferry/contracts";
import { describe, expect, it } from "vitest";
import { applyNetworkMap, networkRows, sameMap, validNetworkName } from "../src/features/wizard/network-map.ts";

const prod: MissingNetwork = { source: "prod", kind: "network", wanted: "prod", offered: ["default", "lab-net"] };
const br0: MissingNetwork = { source: "br0", kind: "bridge", wanted: "br-x", offered: [] };

describe("networkRows", () => {
  it("is one row per missing source in the precheck's order, then the other mapped ones by name", () => {
    expect(networkRows([prod, br0], { br0: "br-x", zz: "a", aa: "b" })).toEqual([
      { source: "prod", kind: "network", mappedTo: "", missing: true, offered: ["default", "lab-net"] },
      { source: "br0", kind: "bridge", mappedTo: "br-x", missing: true, offered: [] },
      { source: "aa", mappedTo: "b", missing: false, offered: [] },
      { source: "zz", mappedTo: "a", missing: false, offered: [] },
    ]);
  });

  it("is nothing when nothing is missing and nothing mapped", () => {
    expect(networkRows(undefined, {})).toEqual([]);
  });
});

describe("applyNetworkMap", () => {
  it("maps what is typed, unmaps a row left empty or set to its own name, and keeps the rest", () => {
    expect(applyNetworkMap({ kept: "x", br0: "br-x" }, { prod: " lab-net ", br0: "" })).toEqual({
      kept: "x",
      prod: "lab-net",
    });
    expect(applyNetworkMap({ prod: "nat" }, { prod: "prod" })).toEqual({});
  });

  it("is null while a name is not one vm.networkMap accepts", () => {
    expect(applyNetworkMap({}, { prod: "lab net" })).toBeNull();
    expect(applyNetworkMap({}, { prod: "x".repeat(65) })).toBeNull();
    expect(applyNetworkMap({}, { "bad name": "ok" })).toBeNull();
    expect(validNetworkName("virbr0.10:a_b-c")).toBe(true);
  });
});

describe("sameMap", () => {
  it("compares entries, not order", () => {
    expect(sameMap({ a: "1", b: "2" }, { b: "2", a: "1" })).toBe(true);
    expect(sameMap({ a: "1" }, { a: "2" })).toBe(false);
    expect(sameMap({ a: "1" }, { a: "1", b: "2" })).toBe(false);
  });
});
