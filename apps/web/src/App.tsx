import { useHealth } from "./features/health/api.ts";
import { HostDetailPage } from "./features/hosts/HostDetailPage.tsx";
import { HostsPage } from "./features/hosts/HostsPage.tsx";
import { JobDetailPage } from "./features/job-detail/JobDetailPage.tsx";
import { JobsPage } from "./features/jobs/JobsPage.tsx";
import { WizardPage } from "./features/wizard/WizardPage.tsx";
import { Link, matchPath, useLocation } from "./lib/router.tsx";

function Page({ pathname }: { pathname: string }) {
  if (pathname === "/" || pathname === "/jobs") return <JobsPage />;
  if (pathname === "/hosts") return <HostsPage />;
  if (pathname === "/migrations/new") return <WizardPage />;
  const job = matchPath("/jobs/:id", pathname);
  if (job && Number(job.id) > 0) return <JobDetailPage key={job.id} id={Number(job.id)} />;
  const host = matchPath("/hosts/:id", pathname);
  if (host && Number(host.id) > 0) return <HostDetailPage key={host.id} id={Number(host.id)} />;
  return (
    <section>
      <h2>Not found</h2>
      <p>
        Nothing lives at <code>{pathname}</code>. <Link href="/jobs">Back to migrations</Link>.
      </p>
    </section>
  );
}

const NAV = [
  { href: "/jobs", label: "Migrations", match: (p: string) => p === "/" || p.startsWith("/jobs") },
  { href: "/migrations/new", label: "New migration", match: (p: string) => p === "/migrations/new" },
  { href: "/hosts", label: "Hosts", match: (p: string) => p.startsWith("/hosts") },
];

export function App() {
  const health = useHealth();
  const { pathname } = useLocation();
  return (
    <div className="app">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <h1 className="brand">Blockferry</h1>
        <nav aria-label="Main">
          <ul>
            {NAV.map((n) => (
              <li key={n.href}>
                <Link href={n.href} aria-current={n.match(pathname) ? "page" : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <span className="status" role="status" aria-live="polite">
          {health.isPending
            ? "connecting…"
            : health.isError
              ? "server unreachable"
              : `server ${health.data.version} ok`}
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        <Page pathname={pathname} />
      </main>
    </div>
  );
}
