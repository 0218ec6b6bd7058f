import type { ApiTokenList, CreateApiToken, CreatedApiToken } from "@blockferry/contracts";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { apiFetch } from "../../lib/api.ts";

export const tokenKeys = {
  all: ["tokens"] as const,
  list: () => [...tokenKeys.all, "list"] as const,
};

export const useTokens = () =>
  useQuery({
    queryKey: tokenKeys.list(),
    queryFn: ({ signal }) => apiFetch<ApiTokenList>("/api/tokens", { signal }).then((r) => r.tokens),
  });

/** The answer holds the secret once: the caller shows it and lets it go. */
export function useCreateToken() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: CreateApiToken) => apiFetch<CreatedApiToken>("/api/tokens", { method: "POST", body }),
    onSuccess: () => qc.invalidateQueries({ queryKey: tokenKeys.all }),
  });
}

export function useRevokeToken() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => apiFetch<null>(`/api/tokens/${id}`, { method: "DELETE" }),
    onSuccess: () => qc.invalidateQueries({ queryKey: tokenKeys.all }),
  });
}
