import type { Migration, Phase } from "@blockferry/contracts";
import { useEffect } from "react";
import { phaseLabel, stateLabel } from "./format.ts";
import { movedWords } from "./job-disks.ts";
import { matchPath } from "./router.tsx";

const APP = "Blockferry";
export const titled = (what: string) => `${what} — ${APP}`;

const STATIC: Record<string, string> = {
  "/": "Migrations",
  "/jobs": "Migrations",
  "/hosts": "Hosts",
  "/migrations/new": "New migration",
  "/users": "Users",
  "/tokens": "API tokens",
  "/webhooks": "Webhooks",
  "/audit": "Audit",
  "/login": "Sign in",
  "/setup": "First-run setup",
};

/** The tab's title for a path; null for the pages that name themselves (a job, a host). */
export function routeTitle(pathname: string): string | null {
  const name = STATIC[pathname];
  if (name) return titled(name);
  if (matchPath("/jobs/:id", pathname) || matchPath("/hosts/:id", pathname)) return null;
  return titled("Not found");
}

const COPYING = new Set<Phase>(["full_copy", "catch_up", "final_delta"]);

/** A job's tab title, what an operator glances at: "#12 vg0/vm1: copying 43%", "#12 vg0/vm1: succeeded". */
export function jobTitle(
  m: Pick<Migration, "id" | "source" | "state" | "disks" | "vm">,
  phase: Phase,
  copiedPercent: number,
): string {
  const what = `#${m.id} ${movedWords(m)}`;
  if (m.state !== "running") return `${what}: ${stateLabel(m.state)}`;
  if (COPYING.has(phase)) return `${what}: copying ${Math.floor(copiedPercent)}%`;
  return `${what}: ${phaseLabel(phase)}`;
}

/** Sets document.title while the calling page shows; null leaves it to someone else. */
export function usePageTitle(title: string | null): void {
  useEffect(() => {
    if (title) document.title = title;
  }, [title]);
}
