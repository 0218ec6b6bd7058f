import { useHealth } from "./features/health/api.ts";

export function App() {
  const health = useHealth();
  return (
    <div className="app">
      <header className="topbar">
        <h1>Blockferry</h1>
        <span className="status" role="status" aria-live="polite">
          {health.isPending
            ? "connecting…"
            : health.isError
              ? "server unreachable"
              : `server ${health.data.version} ok`}
        </span>
      </header>
      <main>
        <p>Move LVM-backed virtual machines between hypervisors with almost no downtime.</p>
      </main>
    </div>
  );
}
