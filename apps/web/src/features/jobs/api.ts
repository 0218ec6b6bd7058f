import type {
  ChunkMap,
  CreateMigration,
  CutoverPolicy,
  JobState,
  Migration,
  MigrationList,
  MigrationReport,
  PrecheckResult,
} from "@blockferry/contracts";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { apiFetch } from "../../lib/api.ts";
import { cutoverAhead } from "../../lib/cutover-policy.ts";
import { isActive } from "../../lib/job-vocabulary.ts";

export interface MigrationFilters {
  state?: JobState;
  hostId?: number;
  q?: string;
  since?: string;
  /** Only migrations whose measured outage exceeded their budget. */
  overBudget?: boolean;
  limit?: number;
}

export const migrationKeys = {
  all: ["migrations"] as const,
  lists: () => [...migrationKeys.all, "list"] as const,
  list: (f: MigrationFilters) => [...migrationKeys.lists(), f] as const,
  detail: (id: number) => [...migrationKeys.all, "detail", id] as const,
  /** Every disk's chunk map of a job (what a refetch invalidates). */
  chunkMaps: (id: number) => [...migrationKeys.detail(id), "chunk-map"] as const,
  chunkMap: (id: number, disk: number) => [...migrationKeys.chunkMaps(id), disk] as const,
  report: (id: number) => [...migrationKeys.detail(id), "report"] as const,
  precheck: (body: CreateMigration | null) => ["prechecks", body] as const,
};

/** How often the server refreshes an outage prediction (issue 16: at least every 5 s). */
const PREDICTION_REFRESH_MS = 5_000;

// Where the job pages look for "is this job still moving".
export { isActive };

function listQuery(f: MigrationFilters): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v !== undefined && v !== "" && v !== false) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

export const useMigrations = (f: MigrationFilters) =>
  useQuery<Migration[], Error, Migration[], ReturnType<typeof migrationKeys.list>>({
    queryKey: migrationKeys.list(f),
    queryFn: ({ signal }) =>
      apiFetch<MigrationList>(`/api/migrations${listQuery(f)}`, { signal }).then((r) => r.migrations),
    placeholderData: keepPreviousData,
    // Rows of running jobs move; a slow poll is enough for a list (the detail page is live).
    refetchInterval: (query) => (query.state.data?.some((m) => isActive(m.state)) ? 2_000 : 15_000),
  });

export const useMigration = (id: number) =>
  useQuery({
    queryKey: migrationKeys.detail(id),
    queryFn: ({ signal }) => apiFetch<Migration>(`/api/migrations/${id}`, { signal }),
    // The server refreshes a prediction every few seconds but stores an event only when it moved: while one is
    // shown, the row is read again as often, so its bytes and time stay current.
    refetchInterval: (q) => (q.state.data?.prediction && cutoverAhead(q.state.data) ? PREDICTION_REFRESH_MS : false),
  });

export const useChunkMap = (id: number, enabled: boolean, disk = 0) =>
  useQuery({
    queryKey: migrationKeys.chunkMap(id, disk),
    queryFn: ({ signal }) =>
      apiFetch<ChunkMap>(`/api/migrations/${id}/chunk-map${disk ? `?disk=${disk}` : ""}`, { signal }),
    enabled,
    staleTime: Number.POSITIVE_INFINITY,
  });

/** What the job did so far (passes, attempts, phase durations): refetched by the page when the job row changes. */
export const useMigrationReport = (id: number) =>
  useQuery({
    queryKey: migrationKeys.report(id),
    queryFn: ({ signal }) => apiFetch<MigrationReport>(`/api/migrations/${id}/report`, { signal }),
  });

/** Where the job's log downloads from (a plain link: the session cookie goes with it). */
export const migrationLogUrl = (id: number) => `/api/migrations/${id}/log`;

/** Prechecks run against the live hosts; debounced by the caller, cached briefly per plan. */
export const usePrechecks = (body: CreateMigration | null) =>
  useQuery({
    queryKey: migrationKeys.precheck(body),
    queryFn: ({ signal }) => apiFetch<PrecheckResult>("/api/prechecks", { method: "POST", body: body, signal }),
    enabled: body !== null,
    staleTime: 5_000,
    retry: false,
  });

export function useCreateMigration() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: CreateMigration) => apiFetch<Migration>("/api/migrations", { method: "POST", body: body }),
    onSuccess: (m) => {
      qc.setQueryData(migrationKeys.detail(m.id), m);
      return qc.invalidateQueries({ queryKey: migrationKeys.lists() });
    },
  });
}

export type JobAction = "cutover" | "cancel" | "retry";

export function useJobAction(id: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (action: JobAction) => apiFetch<Migration>(`/api/migrations/${id}/${action}`, { method: "POST" }),
    onSuccess: (m) => {
      qc.setQueryData(migrationKeys.detail(id), m);
      return qc.invalidateQueries({ queryKey: migrationKeys.all });
    },
    // A refusal changes nothing, but a failure part-way removed some disks' LVs: the job says which now.
    onError: () => qc.invalidateQueries({ queryKey: migrationKeys.detail(id), exact: true }),
  });
}

/** Replaces the cutover policy of a migration whose cutover is still ahead (409 once it is finished or stopping). */
export function useSetCutoverPolicy(id: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (policy: CutoverPolicy) =>
      apiFetch<Migration>(`/api/migrations/${id}/cutover-policy`, { method: "PUT", body: policy }),
    onSuccess: (m) => {
      qc.setQueryData(migrationKeys.detail(id), m);
      return qc.invalidateQueries({ queryKey: migrationKeys.lists() });
    },
  });
}

/** Removes the source LV a succeeded job kept; `confirm` is its `vg/lv` as the operator typed it. */
export function useDecommissionSource(id: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (confirm: string) =>
      apiFetch<Migration>(`/api/migrations/${id}/decommission`, { method: "POST", body: { confirm } }),
    onSuccess: (m) => {
      qc.setQueryData(migrationKeys.detail(id), m);
      return qc.invalidateQueries({ queryKey: migrationKeys.all });
    },
    // A refusal changes nothing, but a failure part-way removed some disks' LVs: the job says which now.
    onError: () => qc.invalidateQueries({ queryKey: migrationKeys.detail(id), exact: true }),
  });
}
