import type { ReactNode } from "react";
import { errorText } from "../lib/api.ts";

/** The three states every list and page has besides "here is the data". */
export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" aria-live="polite" aria-busy="true">
      Loading {what}…
    </p>
  );
}

export function ErrorState({ error, retry }: { error: unknown; retry?: () => void }) {
  return (
    <div className="error-box" role="alert">
      <p>{errorText(error)}</p>
      {retry ? (
        <button type="button" onClick={retry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}
