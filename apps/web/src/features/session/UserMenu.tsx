import { useState } from "react";
import { useLogout } from "./api.ts";
import { useSession } from "./session-store.ts";

/** Who is logged in, with which role, and the way out. */
export function UserMenu() {
  const session = useSession();
  const logout = useLogout();
  const [busy, setBusy] = useState(false);
  if (!session) return null;
  return (
    <div className="user-menu">
      <span data-testid="current-user">
        <strong>{session.user.username}</strong>{" "}
        <span className={`role-badge role-${session.user.role}`}>{session.user.role}</span>
      </span>
      <button
        type="button"
        className="ghost"
        disabled={busy}
        onClick={() => {
          setBusy(true);
          void logout().finally(() => setBusy(false));
        }}
      >
        Log out
      </button>
    </div>
  );
}
