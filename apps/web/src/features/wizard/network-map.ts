/**
 * The review's network mapping: one row per network or bridge of the VM that the destination lacks (the VM networks
 * precheck's `missingNetworks`) or that the operator mapped already, and the map the typed rows make. Pure; tested
 * in apps/web/test/wizard-network-map.test.ts.
 */
import { type MissingNetwork, NETWORK_NAME_MAX, NETWORK_NAME_PATTERN } from "@blockferry/contracts";

/** What vm.networkMap accepts as a name (contracts' NetworkName). */
const NETWORK_NAME = new RegExp(NETWORK_NAME_PATTERN);
export const validNetworkName = (s: string) => s.length <= NETWORK_NAME_MAX && NETWORK_NAME.test(s);

export interface NetworkRow {
  /** The name on the source: the map's key. */
  source: string;
  /** What it is, when the last precheck named it. */
  kind?: MissingNetwork["kind"];
  /** The destination's name it maps to now; empty for none. */
  mappedTo: string;
  /** Whether the last precheck found it (or its mapping) missing on the destination. */
  missing: boolean;
  /** The destination's names of its kind, when the precheck listed them. */
  offered: string[];
}

/** The precheck's missing networks first, in its order, then the other mapped ones by name. */
export function networkRows(
  missing: readonly MissingNetwork[] | undefined,
  map: Readonly<Record<string, string>>,
): NetworkRow[] {
  const rows: NetworkRow[] = (missing ?? []).map((m) => ({
    source: m.source,
    kind: m.kind,
    mappedTo: map[m.source] ?? "",
    missing: true,
    offered: m.offered,
  }));
  const named = new Set(rows.map((r) => r.source));
  for (const source of Object.keys(map).sort())
    if (!named.has(source)) rows.push({ source, mappedTo: map[source] ?? "", missing: false, offered: [] });
  return rows;
}

/**
 * The map with the typed names of `rows` applied: a name left empty or the source's own unmaps that source; maps
 * of sources the rows do not show are kept. null while a name is not one vm.networkMap accepts.
 */
export function applyNetworkMap(
  map: Readonly<Record<string, string>>,
  typed: Readonly<Record<string, string>>,
): Record<string, string> | null {
  const next: Record<string, string> = { ...map };
  for (const [source, value] of Object.entries(typed)) {
    const to = value.trim();
    if (!to || to === source) delete next[source];
    else if (validNetworkName(source) && validNetworkName(to)) next[source] = to;
    else return null;
  }
  return next;
}

/** Whether two maps say the same. */
export const sameMap = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);
