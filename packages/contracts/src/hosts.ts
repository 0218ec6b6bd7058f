import { type Static, Type } from "typebox";

const Name = Type.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9][A-Za-z0-9._-]*$" });

export const HostStatus = Type.Union(
  [Type.Literal("untrusted"), Type.Literal("trusted"), Type.Literal("key_changed")],
  {
    description: "untrusted: fingerprint not confirmed yet; key_changed: the host presented another key and is blocked",
  },
);

/**
 * `host[:port]` as other hypervisors reach a host (the direct data plane): a name or IPv4 address, or an IPv6
 * address in brackets, then an optional port.
 */
const MIGRATION_ADDRESS = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9][A-Za-z0-9.-]*))(?::([0-9]{1,5}))?$/;

export const MigrationAddress = Type.String({ minLength: 1, maxLength: 261, pattern: MIGRATION_ADDRESS.source });

/** A migration address taken apart (port 22 when it names none), or why it is not a usable one. */
export type ParsedMigrationAddress = { ok: true; host: string; port: number } | { ok: false; problem: string };

/** The schema's shape plus a port in 1..65535; the server and the dashboard read addresses only through this. */
export function parseMigrationAddress(text: string): ParsedMigrationAddress {
  const m = MIGRATION_ADDRESS.exec(text);
  const shape = "host[:port]: a name or IPv4 address, or an IPv6 address in brackets ([fd00::2]:22)";
  const problem = (why: string) => ({ ok: false, problem: why }) as const;
  if (!m || text.length > 261) return problem(`migration address ${JSON.stringify(text)} is not ${shape}`);
  const host = m[1] ?? m[2] ?? "";
  if (m[1] !== undefined && !host.includes(":"))
    return problem(`migration address ${JSON.stringify(text)}: brackets are for IPv6 addresses`);
  if (m[2] !== undefined && host.length > 253)
    return problem("migration address: the host name is longer than 253 characters");
  const port = m[3] === undefined ? 22 : Number(m[3]);
  if (port < 1 || port > 65535) return problem(`migration address ${JSON.stringify(text)}: the port must be 1..65535`);
  return { ok: true, host, port };
}

/**
 * Why `text` is not a usable migration address (null: it is). The server answers a PATCH with it (400) and the
 * dashboard shows it under the field.
 */
export function migrationAddressProblem(text: string): string | null {
  const parsed = parseMigrationAddress(text);
  return parsed.ok ? null : parsed.problem;
}

/** A host as the API shows it: never with its private key. */
export const Host = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    address: Type.String(),
    port: Type.Integer(),
    username: Type.String(),
    keySource: Type.Union([Type.Literal("pasted"), Type.Literal("file")]),
    privateKeyPath: Type.Union([Type.String(), Type.Null()]),
    status: HostStatus,
    pinnedFingerprint: Type.Union([Type.String(), Type.Null()]),
    seenFingerprint: Type.Union([Type.String(), Type.Null()]),
    maxConcurrency: Type.Integer(),
    migrationAddress: Type.Union([Type.String(), Type.Null()], {
      description: "host[:port] where other hypervisors reach this one; null: address and port",
    }),
    createdAt: Type.String(),
    updatedAt: Type.String(),
  },
  { $id: "Host" },
);
export type Host = Static<typeof Host>;

export const CreateHost = Type.Object(
  {
    name: Name,
    address: Type.String({ minLength: 1, maxLength: 253, pattern: "^[A-Za-z0-9.:-]+$" }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, default: 22 })),
    username: Type.Optional(
      Type.String({ minLength: 1, maxLength: 32, pattern: "^[a-z_][a-z0-9_-]*$", default: "root" }),
    ),
    privateKey: Type.Optional(Type.String({ minLength: 1, maxLength: 16384, description: "pasted OpenSSH/PEM key" })),
    privateKeyPath: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 4096,
        description: "key file on the server: a regular file under its key directory (relative paths: from there)",
      }),
    ),
    maxConcurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, default: 8 })),
    migrationAddress: Type.Optional(MigrationAddress),
  },
  { additionalProperties: false },
);
export type CreateHost = Static<typeof CreateHost>;

/** What an admin may change on a host; only its migration address so far (null: back to address and port). */
export const UpdateHost = Type.Object(
  {
    migrationAddress: Type.Union([Type.String({ maxLength: 300 }), Type.Null()], {
      description: "host[:port] or [v6]:port where other hypervisors reach this host; null: its address and port",
    }),
  },
  { additionalProperties: false },
);
export type UpdateHost = Static<typeof UpdateHost>;

export const TrustHost = Type.Object(
  { fingerprint: Type.String({ pattern: "^SHA256:[A-Za-z0-9+/]{43}$" }) },
  { additionalProperties: false },
);
export type TrustHost = Static<typeof TrustHost>;

export const HostList = Type.Object({ hosts: Type.Array(Host) });
export type HostList = Static<typeof HostList>;

export const HostHealth = Type.Object({
  reachable: Type.Boolean(),
  latencyMs: Type.Union([Type.Number(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
});
export type HostHealth = Static<typeof HostHealth>;
