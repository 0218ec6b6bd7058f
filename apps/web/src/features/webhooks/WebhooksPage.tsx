import { WEBHOOK_EVENT_LABELS, WEBHOOK_EVENTS, type Webhook, type WebhookEvent } from "@blockferry/contracts";
import { type FormEvent, useState } from "react";
import { ConfirmDialog } from "../../components/ConfirmDialog.tsx";
import { Empty, ErrorState, Loading } from "../../components/QueryState.tsx";
import { Table } from "../../components/Table.tsx";
import { errorText } from "../../lib/api.ts";
import { formatTime } from "../../lib/format.ts";
import { useCreateWebhook, useDeleteWebhook, useDeliveries, useWebhooks } from "./api.ts";

const eventList = (events: readonly WebhookEvent[]) => events.map((e) => WEBHOOK_EVENT_LABELS[e]).join(", ");

function CreateWebhookForm() {
  const create = useCreateWebhook();
  const [events, setEvents] = useState<WebhookEvent[]>([...WEBHOOK_EVENTS]);
  const toggle = (e: WebhookEvent) =>
    setEvents((now) =>
      now.includes(e) ? now.filter((x) => x !== e) : WEBHOOK_EVENTS.filter((x) => x === e || now.includes(x)),
    );
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const data = new FormData(form);
    create.mutate(
      { url: String(data.get("url") ?? "").trim(), secret: String(data.get("secret") ?? ""), events },
      { onSuccess: () => form.reset() },
    );
  };
  return (
    <form className="card form-grid" onSubmit={submit} aria-label="Add webhook">
      <h3>Add a webhook</h3>
      <label className="span-2">
        URL
        <input name="url" type="url" required maxLength={2048} placeholder="https://hooks.example.com/blockferry" />
      </label>
      <label className="span-2">
        Signing secret
        <input name="secret" type="password" required minLength={16} maxLength={256} autoComplete="new-password" />
        <span className="muted small">
          Deliveries carry <code>X-Blockferry-Signature: sha256=…</code>, an HMAC of the timestamp and the body with
          this secret. It is stored encrypted and never shown again.
        </span>
      </label>
      <fieldset className="span-2">
        <legend>Events</legend>
        {WEBHOOK_EVENTS.map((e) => (
          <label key={e} className="inline">
            <input type="checkbox" checked={events.includes(e)} onChange={() => toggle(e)} />
            {WEBHOOK_EVENT_LABELS[e]}
          </label>
        ))}
      </fieldset>
      {create.isError ? (
        <p className="error span-2" role="alert">
          {errorText(create.error)}
        </p>
      ) : null}
      <div className="actions span-2">
        <button type="submit" className="primary" disabled={create.isPending || events.length === 0}>
          {create.isPending ? "Adding…" : "Add webhook"}
        </button>
      </div>
    </form>
  );
}

function DeliveryLog({ webhook }: { webhook: Webhook }) {
  const deliveries = useDeliveries(webhook.id);
  if (deliveries.isPending) return <Loading what="deliveries" />;
  if (deliveries.isError) return <ErrorState error={deliveries.error} retry={() => void deliveries.refetch()} />;
  if (deliveries.data.length === 0) return <Empty>Nothing sent to this webhook yet.</Empty>;
  return (
    <Table
      label={`Deliveries to ${webhook.url}`}
      columns={["Event", "Migration", "State", "Attempts", "Last answer", "Last attempt", "Next retry"]}
    >
      {deliveries.data.map((d) => (
        <tr key={d.id}>
          <th scope="row">{WEBHOOK_EVENT_LABELS[d.event]}</th>
          <td>{d.jobId === null ? "" : `#${d.jobId}`}</td>
          <td>{d.state}</td>
          <td>{d.attempts}</td>
          <td>{d.lastError ?? (d.lastStatus === null ? "" : `HTTP ${d.lastStatus}`)}</td>
          <td>{d.lastAttemptAt ? formatTime(d.lastAttemptAt) : <span className="muted">not yet</span>}</td>
          <td>{d.nextAttemptAt ? formatTime(d.nextAttemptAt) : ""}</td>
        </tr>
      ))}
    </Table>
  );
}

export function WebhooksPage() {
  const webhooks = useWebhooks();
  const remove = useDeleteWebhook();
  const [shown, setShown] = useState<number | null>(null);
  const [removing, setRemoving] = useState<Webhook | null>(null);
  const shownWebhook = webhooks.data?.find((w) => w.id === shown) ?? null;
  return (
    <section aria-labelledby="webhooks-title">
      <h2 id="webhooks-title">Webhooks</h2>
      <div className="two-col">
        <div>
          {webhooks.isPending ? (
            <Loading what="webhooks" />
          ) : webhooks.isError ? (
            <ErrorState error={webhooks.error} retry={() => void webhooks.refetch()} />
          ) : webhooks.data.length === 0 ? (
            <Empty>No webhooks. Add one to hear when a migration is ready for cutover or ends.</Empty>
          ) : (
            <Table label="Webhooks" columns={["URL", "Events", "Created by", "Created", "Actions"]}>
              {webhooks.data.map((w) => (
                <tr key={w.id}>
                  <th scope="row">{w.url}</th>
                  <td>{eventList(w.events)}</td>
                  <td>{w.createdBy}</td>
                  <td>{formatTime(w.createdAt)}</td>
                  <td className="row-actions">
                    <button
                      type="button"
                      className="ghost"
                      aria-pressed={shown === w.id}
                      onClick={() => setShown(shown === w.id ? null : w.id)}
                    >
                      Deliveries
                    </button>
                    <button
                      type="button"
                      className="ghost"
                      aria-label={`Delete ${w.url}`}
                      onClick={() => setRemoving(w)}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </Table>
          )}
          {shownWebhook ? (
            <section aria-label="Delivery log">
              <h3>Deliveries to {shownWebhook.url}</h3>
              <DeliveryLog webhook={shownWebhook} />
            </section>
          ) : null}
        </div>
        <CreateWebhookForm />
      </div>
      {removing ? (
        <ConfirmDialog
          open
          title={`Delete the webhook to ${removing.url}?`}
          confirmLabel="Delete webhook"
          danger
          busy={remove.isPending}
          error={remove.isError ? errorText(remove.error) : null}
          onCancel={() => {
            remove.reset();
            setRemoving(null);
          }}
          onConfirm={() =>
            remove.mutate(removing.id, {
              onSuccess: () => {
                if (shown === removing.id) setShown(null);
                setRemoving(null);
              },
            })
          }
        >
          <p>Nothing more is sent to it; retries still pending are dropped with its delivery log.</p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
