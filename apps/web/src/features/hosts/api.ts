import type { CreateHost, Host, HostHealth, HostList, Inventory, UpdateHost } from "@blockferry/contracts";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { apiFetch } from "../../lib/api.ts";

export interface AddHostResult {
  host: Host;
  /** The key the host presented when the server probed it on add; null when the probe failed. */
  fingerprint: string | null;
  probeError: string | null;
}

export const hostKeys = {
  all: ["hosts"] as const,
  list: () => [...hostKeys.all, "list"] as const,
  detail: (id: number) => [...hostKeys.all, "detail", id] as const,
  health: (id: number) => [...hostKeys.detail(id), "health"] as const,
  inventory: (id: number) => [...hostKeys.detail(id), "inventory"] as const,
};

export const useHosts = () =>
  useQuery({
    queryKey: hostKeys.list(),
    queryFn: ({ signal }) => apiFetch<HostList>("/api/hosts", { signal }).then((r) => r.hosts),
  });

export function useHostHealth(id: number, enabled = true) {
  const qc = useQueryClient();
  return useQuery({
    queryKey: hostKeys.health(id),
    queryFn: async ({ signal }) => {
      const health = await apiFetch<HostHealth>(`/api/hosts/${id}/health`, { signal });
      // A failed check may have found a changed host key: the server has blocked the host, so reload the list.
      if (!health.reachable) void qc.invalidateQueries({ queryKey: hostKeys.list() });
      return health;
    },
    enabled,
    refetchInterval: 30_000,
  });
}

export const useInventory = (id: number | undefined) =>
  useQuery({
    queryKey: hostKeys.inventory(id ?? 0),
    queryFn: ({ signal }) => apiFetch<Inventory>(`/api/hosts/${id}/inventory`, { signal }),
    enabled: id !== undefined,
    staleTime: 15_000,
  });

export function useAddHost() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: CreateHost) => apiFetch<AddHostResult>("/api/hosts", { method: "POST", body: body }),
    onSuccess: () => qc.invalidateQueries({ queryKey: hostKeys.all }),
  });
}

export function useTrustHost() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ id, fingerprint }: { id: number; fingerprint: string }) =>
      apiFetch<Host>(`/api/hosts/${id}/trust`, { method: "POST", body: { fingerprint } }),
    onSuccess: () => qc.invalidateQueries({ queryKey: hostKeys.all }),
  });
}

export function useProbeHost() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => apiFetch<{ fingerprint: string }>(`/api/hosts/${id}/probe`, { method: "POST" }),
    onSuccess: () => qc.invalidateQueries({ queryKey: hostKeys.all }),
  });
}

export function useDeleteHost() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => apiFetch<unknown>(`/api/hosts/${id}`, { method: "DELETE" }),
    onSuccess: () => qc.invalidateQueries({ queryKey: hostKeys.all }),
  });
}

/** Sets or clears (null) where other hypervisors reach the host. */
export function useUpdateHost() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ id, ...body }: UpdateHost & { id: number }) =>
      apiFetch<Host>(`/api/hosts/${id}`, { method: "PATCH", body }),
    onSuccess: () => qc.invalidateQueries({ queryKey: hostKeys.all }),
  });
}

/** Where other hypervisors reach the host for a direct copy: its migration address, else the server's address. */
export const effectiveMigrationAddress = (h: Pick<Host, "address" | "port" | "migrationAddress">): string =>
  h.migrationAddress ?? `${h.address.includes(":") ? `[${h.address}]` : h.address}:${h.port}`;
