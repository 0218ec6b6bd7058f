import type { AuditPage } from "@blockferry/contracts";
import { useInfiniteQuery } from "@tanstack/react-query";
import { apiFetch } from "../../lib/api.ts";

export const auditKeys = { all: ["audit"] as const };

const PAGE = 100;

/** Newest first; each "older" page starts below the last id of the one before (`nextBefore`). */
export const useAudit = () =>
  useInfiniteQuery({
    queryKey: auditKeys.all,
    queryFn: ({ pageParam, signal }) =>
      apiFetch<AuditPage>(`/api/audit?limit=${PAGE}${pageParam ? `&before=${pageParam}` : ""}`, { signal }),
    initialPageParam: 0,
    getNextPageParam: (last) => last.nextBefore ?? undefined,
  });
