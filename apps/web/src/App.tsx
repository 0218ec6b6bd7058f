import type { Role } from "@blockferry/contracts";
import { NotFound } from "./components/NotFound.tsx";
import { AuditPage } from "./features/audit/AuditPage.tsx";
import { useHealth } from "./features/health/api.ts";
import { HostDetailPage } from "./features/hosts/HostDetailPage.tsx";
import { HostsPage } from "./features/hosts/HostsPage.tsx";
import { JobDetailPage } from "./features/job-detail/JobDetailPage.tsx";
import { JobsPage } from "./features/jobs/JobsPage.tsx";
import { SessionGate } from "./features/session/SessionGate.tsx";
import { useCan, useSession } from "./features/session/session-store.ts";
import { UserMenu } from "./features/session/UserMenu.tsx";
import { TokensPage } from "./features/tokens/TokensPage.tsx";
import { UsersPage } from "./features/users/UsersPage.tsx";
import { WebhooksPage } from "./features/webhooks/WebhooksPage.tsx";
import { WizardPage } from "./features/wizard/WizardPage.tsx";
import { routeTitle, titled, usePageTitle } from "./lib/page-title.ts";
import { Link, matchPath, useLocation } from "./lib/router.tsx";

/** A page that needs more than reading: explained instead of a wall of 403s. */
function NeedsRole({ need, children }: { need: Role; children: React.ReactNode }) {
  if (useCan(need)) return <>{children}</>;
  return (
    <section>
      <h2>Not available to your role</h2>
      <p>
        This page needs the <strong>{need}</strong> role. <Link href="/jobs">Back to migrations</Link>.
      </p>
    </section>
  );
}

function Page({ pathname }: { pathname: string }) {
  if (pathname === "/" || pathname === "/jobs") return <JobsPage />;
  if (pathname === "/hosts") return <HostsPage />;
  if (pathname === "/migrations/new")
    return (
      <NeedsRole need="operator">
        <WizardPage />
      </NeedsRole>
    );
  if (pathname === "/users")
    return (
      <NeedsRole need="admin">
        <UsersPage />
      </NeedsRole>
    );
  if (pathname === "/tokens")
    return (
      <NeedsRole need="admin">
        <TokensPage />
      </NeedsRole>
    );
  if (pathname === "/webhooks")
    return (
      <NeedsRole need="admin">
        <WebhooksPage />
      </NeedsRole>
    );
  if (pathname === "/audit")
    return (
      <NeedsRole need="admin">
        <AuditPage />
      </NeedsRole>
    );
  const job = matchPath("/jobs/:id", pathname);
  if (job && Number(job.id) > 0) return <JobDetailPage key={job.id} id={Number(job.id)} />;
  const host = matchPath("/hosts/:id", pathname);
  if (host && Number(host.id) > 0) return <HostDetailPage key={host.id} id={Number(host.id)} />;
  return (
    <NotFound>
      Nothing lives at <code>{pathname}</code>.
    </NotFound>
  );
}

const NAV: { href: string; label: string; role: Role; match: (p: string) => boolean }[] = [
  { href: "/jobs", label: "Migrations", role: "viewer", match: (p) => p === "/" || p.startsWith("/jobs") },
  { href: "/migrations/new", label: "New migration", role: "operator", match: (p) => p === "/migrations/new" },
  { href: "/hosts", label: "Hosts", role: "viewer", match: (p) => p.startsWith("/hosts") },
  { href: "/users", label: "Users", role: "admin", match: (p) => p === "/users" },
  { href: "/tokens", label: "API tokens", role: "admin", match: (p) => p === "/tokens" },
  { href: "/webhooks", label: "Webhooks", role: "admin", match: (p) => p === "/webhooks" },
  { href: "/audit", label: "Audit", role: "admin", match: (p) => p === "/audit" },
];

function MainNav({ pathname }: { pathname: string }) {
  const isOperator = useCan("operator");
  const isAdmin = useCan("admin");
  const allowed = (r: Role) => r === "viewer" || (r === "operator" ? isOperator : isAdmin);
  return (
    <nav aria-label="Main">
      <ul>
        {NAV.filter((n) => allowed(n.role)).map((n) => (
          <li key={n.href}>
            <Link href={n.href} aria-current={n.match(pathname) ? "page" : undefined}>
              {n.label}
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}

export function App() {
  const health = useHealth();
  const { pathname } = useLocation();
  const signedIn = useSession() !== null;
  // Pages with a name of their own (a job, a host) set it themselves; signed out, the session page names the tab.
  usePageTitle(signedIn ? routeTitle(pathname) : pathname === "/setup" ? titled("First-run setup") : titled("Sign in"));
  return (
    <div className="app">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <h1 className="brand">Blockferry</h1>
        {signedIn ? <MainNav pathname={pathname} /> : null}
        <span className="status" role="status" aria-live="polite">
          {health.isPending
            ? "connecting…"
            : health.isError
              ? "server unreachable"
              : `server ${health.data.version} ok`}
        </span>
        {signedIn ? <UserMenu /> : null}
      </header>
      <main id="main" tabIndex={-1}>
        <SessionGate>
          <Page pathname={pathname} />
        </SessionGate>
      </main>
    </div>
  );
}
