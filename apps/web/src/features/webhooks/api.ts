import type { CreateWebhook, Webhook, WebhookDeliveryList, WebhookList } from "@blockferry/contracts";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { apiFetch } from "../../lib/api.ts";

export const webhookKeys = {
  all: ["webhooks"] as const,
  list: () => [...webhookKeys.all, "list"] as const,
  deliveries: (id: number) => [...webhookKeys.all, "deliveries", id] as const,
};

export const useWebhooks = () =>
  useQuery({
    queryKey: webhookKeys.list(),
    queryFn: ({ signal }) => apiFetch<WebhookList>("/api/webhooks", { signal }).then((r) => r.webhooks),
  });

/** Refreshed every few seconds while shown: retries happen on their own schedule. */
export const useDeliveries = (id: number) =>
  useQuery({
    queryKey: webhookKeys.deliveries(id),
    queryFn: ({ signal }) =>
      apiFetch<WebhookDeliveryList>(`/api/webhooks/${id}/deliveries`, { signal }).then((r) => r.deliveries),
    refetchInterval: 5000,
  });

export function useCreateWebhook() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: CreateWebhook) => apiFetch<Webhook>("/api/webhooks", { method: "POST", body }),
    onSuccess: () => qc.invalidateQueries({ queryKey: webhookKeys.all }),
  });
}

export function useDeleteWebhook() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => apiFetch<null>(`/api/webhooks/${id}`, { method: "DELETE" }),
    onSuccess: () => qc.invalidateQueries({ queryKey: webhookKeys.all }),
  });
}
