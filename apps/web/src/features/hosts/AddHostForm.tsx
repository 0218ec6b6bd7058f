import type { CreateHost, Host } from "@blockferry/contracts";
import { type FormEvent, useState } from "react";
import { errorText } from "../../lib/api.ts";
import { useAddHost } from "./api.ts";

/** Adds a host; the server probes it at once and the caller shows the presented fingerprint for trust. */
export function AddHostForm({
  onAdded,
}: {
  onAdded(host: Host, fingerprint: string | null, probeError: string | null): void;
}) {
  const add = useAddHost();
  const [keySource, setKeySource] = useState<"pasted" | "file">("file");

  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const text = (k: string) => String(f.get(k) ?? "").trim();
    const body: CreateHost = {
      name: text("name"),
      address: text("address"),
      port: Number(text("port") || 22),
      username: text("username") || "root",
      ...(text("migrationAddress") ? { migrationAddress: text("migrationAddress") } : {}),
      ...(keySource === "pasted"
        ? { privateKey: `${text("privateKey")}\n` }
        : { privateKeyPath: text("privateKeyPath") }),
    };
    const form = e.currentTarget;
    add.mutate(body, {
      onSuccess: (r) => {
        form.reset();
        onAdded(r.host, r.fingerprint, r.probeError);
      },
    });
  };

  return (
    <form className="card form-grid" onSubmit={submit} aria-label="Add host">
      <h3>Add a host</h3>
      <label>
        Name
        <input name="name" required maxLength={64} pattern="[A-Za-z0-9][A-Za-z0-9._\-]*" placeholder="hv-01" />
      </label>
      <label>
        Address
        <input name="address" required maxLength={253} pattern="[A-Za-z0-9.:\-]+" placeholder="10.0.0.11" />
      </label>
      <label>
        SSH port
        <input name="port" type="number" min={1} max={65535} defaultValue={22} required />
      </label>
      <label>
        User
        <input name="username" defaultValue="root" pattern="[a-z_][a-z0-9_\-]*" maxLength={32} />
      </label>
      <label className="span-2">
        Migration address (optional)
        <input name="migrationAddress" maxLength={261} placeholder="10.77.0.2 or [fd00::2]:22" />
        <span className="muted small">
          Where the other hypervisors reach this host for a direct copy, if not at the address above.
        </span>
      </label>
      <fieldset className="span-2">
        <legend>Private key</legend>
        <label className="inline">
          <input type="radio" name="keySource" checked={keySource === "file"} onChange={() => setKeySource("file")} />
          Key file on the server
        </label>
        <label className="inline">
          <input
            type="radio"
            name="keySource"
            checked={keySource === "pasted"}
            onChange={() => setKeySource("pasted")}
          />
          Paste a key
        </label>
        {keySource === "file" ? (
          <label>
            Key path
            <input
              name="privateKeyPath"
              required
              maxLength={4096}
              placeholder="id_ed25519 (in the server's key directory)"
            />
          </label>
        ) : (
          <label>
            Key (OpenSSH or PEM)
            <textarea
              name="privateKey"
              required
              rows={5}
              maxLength={16384}
              spellCheck={false}
              autoComplete="off"
              placeholder="-----BEGIN OPENSSH PRIVATE KEY-----"
            />
          </label>
        )}
      </fieldset>
      {add.isError ? (
        <p className="error span-2" role="alert">
          {errorText(add.error)}
        </p>
      ) : null}
      <div className="span-2 actions">
        <button type="submit" className="primary" disabled={add.isPending}>
          {add.isPending ? "Connecting…" : "Add and fetch host key"}
        </button>
      </div>
    </form>
  );
}
