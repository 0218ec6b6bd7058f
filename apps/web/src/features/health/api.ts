import type { Health } from "@blockferry/contracts";
import { useQuery } from "@tanstack/react-query";
import { apiFetch } from "../../lib/api.ts";

export const healthKeys = { all: ["health"] as const };

export const useHealth = () =>
  useQuery({ queryKey: healthKeys.all, queryFn: () => apiFetch<Health>("/api/health"), refetchInterval: 10_000 });
