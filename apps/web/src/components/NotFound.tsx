import type { ReactNode } from "react";
import { titled, usePageTitle } from "../lib/page-title.ts";
import { Link } from "../lib/router.tsx";

/** Nothing here: said plainly, with the way back. Nothing to try again, since trying again finds nothing either. */
export function NotFound({
  children,
  back = { href: "/jobs", label: "Back to migrations" },
}: {
  children: ReactNode;
  back?: { href: string; label: string };
}) {
  usePageTitle(titled("Not found"));
  return (
    <section aria-labelledby="not-found-title" className="not-found">
      <h2 id="not-found-title">Not found</h2>
      <p>{children}</p>
      <p>
        <Link href={back.href}>{back.label}</Link>
      </p>
    </section>
  );
}
