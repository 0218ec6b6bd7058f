import { type Static, Type } from "typebox";

/** viewer reads; operator also runs prechecks and drives migrations; admin also manages hosts, users and tokens. */
export const ROLES = ["viewer", "operator", "admin"] as const;
export type Role = (typeof ROLES)[number];
export const Role = Type.Union([Type.Literal("viewer"), Type.Literal("operator"), Type.Literal("admin")], {
  description: "viewer: reads; operator: + prechecks and migration actions; admin: + hosts, users, tokens",
});

/** True when `have` includes everything `need` may do. */
export const roleAllows = (have: Role, need: Role): boolean => ROLES.indexOf(have) >= ROLES.indexOf(need);

export const Username = Type.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9][A-Za-z0-9._@-]*$" });
/** Length only: long passphrases beat composition rules; 1024 bounds the hashing work per request. */
export const Password = Type.String({ minLength: 10, maxLength: 1024 });

export const User = Type.Object(
  { id: Type.Integer(), username: Type.String(), role: Role, createdAt: Type.String() },
  { $id: "User" },
);
export type User = Static<typeof User>;

export const UserList = Type.Object({ users: Type.Array(User) });
export type UserList = Static<typeof UserList>;

export const CreateUser = Type.Object(
  { username: Username, password: Password, role: Role },
  { additionalProperties: false },
);
export type CreateUser = Static<typeof CreateUser>;

export const UpdateUser = Type.Object(
  { password: Type.Optional(Password), role: Type.Optional(Role) },
  { additionalProperties: false },
);
export type UpdateUser = Static<typeof UpdateUser>;

export const Login = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);
export type Login = Static<typeof Login>;

/** Who is logged in. `csrfToken` goes back in `X-CSRF-Token` on every unsafe request made with the cookie. */
export const Session = Type.Object({
  user: User,
  csrfToken: Type.String(),
  expiresAt: Type.String({ description: "when the session ends at the latest (idle expiry may end it sooner)" }),
});
export type Session = Static<typeof Session>;

export const SetupStatus = Type.Object({
  needed: Type.Boolean({ description: "no account exists yet: the first admin is created with the setup token" }),
});
export type SetupStatus = Static<typeof SetupStatus>;

export const FirstAdmin = Type.Object(
  { setupToken: Type.String({ minLength: 1, maxLength: 256 }), username: Username, password: Password },
  { additionalProperties: false },
);
export type FirstAdmin = Static<typeof FirstAdmin>;

export const ApiToken = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    role: Role,
    createdBy: Type.String(),
    createdAt: Type.String(),
    lastUsedAt: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: "ApiToken" },
);
export type ApiToken = Static<typeof ApiToken>;

export const ApiTokenList = Type.Object({ tokens: Type.Array(ApiToken) });
export type ApiTokenList = Static<typeof ApiTokenList>;

export const CreateApiToken = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9][A-Za-z0-9 ._-]*$" }), role: Role },
  { additionalProperties: false },
);
export type CreateApiToken = Static<typeof CreateApiToken>;

/** The secret is shown here once; the server keeps only its hash. */
export const CreatedApiToken = Type.Object({ token: Type.String(), apiToken: ApiToken });
export type CreatedApiToken = Static<typeof CreatedApiToken>;

export const AuditEntry = Type.Object({
  id: Type.Integer(),
  at: Type.String(),
  actor: Type.String(),
  address: Type.Union([Type.String(), Type.Null()]),
  action: Type.String(),
  subject: Type.String(),
  details: Type.Unknown(),
});
export type AuditEntry = Static<typeof AuditEntry>;

export const AuditQuery = Type.Object({
  before: Type.Optional(Type.Integer({ minimum: 1, description: "entries older than this id (the next page)" })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
});
export type AuditQuery = Static<typeof AuditQuery>;

export const AuditPage = Type.Object({
  entries: Type.Array(AuditEntry),
  nextBefore: Type.Union([Type.Integer(), Type.Null()], { description: "pass as `before` for the next page" }),
});
export type AuditPage = Static<typeof AuditPage>;

/** Headers and cookie names shared by server, dashboard and CLI. */
export const SESSION_COOKIE = "bf_session";
export const CSRF_HEADER = "x-csrf-token";
