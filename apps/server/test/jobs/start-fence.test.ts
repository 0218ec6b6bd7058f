// startFenced: the decision stored first, then both hosts asked before any start command.
import { describe, expect, it } from "vitest";
import type { PhaseState } from "../../src/jobs/context.ts";
import { FencingError, type StartHost, startFenced } from "../../src/jobs/start-fence.ts";

function setup(answers: Record<StartHost, boolean | null | Error>) {
  const state: PhaseState = {};
  const logs: string[] = [];
  const starts: string[] = [];
  const ctx = {
    state,
    save: (patch: Partial<PhaseState>) => Object.assign(state, patch),
    log: (_level: string, message: string) => logs.push(message),
  };
  const vm = {
    async runningOn(host: StartHost) {
      const a = answers[host];
      if (a instanceof Error) throw a;
      return a;
    },
  };
  const start = (host: StartHost) =>
    startFenced(ctx as never, host, vm, async () => void starts.push(host), new AbortController().signal);
  return { state, logs, starts, start };
}

describe("startFenced", () => {
  it("refuses a start while the VM runs on the other host, with the decision already stored", async () => {
    const s = setup({ source: true, target: false });
    await expect(s.start("target")).rejects.toBeInstanceOf(FencingError);
    expect(s.state.startDecision?.host).toBe("target");
    expect(s.starts).toEqual([]);
  });

  it("does not start again where the VM already runs", async () => {
    const s = setup({ source: false, target: true });
    expect(await s.start("target")).toBe(false);
    expect(s.starts).toEqual([]);
    expect(s.logs.join()).toMatch(/already running on the target/);
  });

  it("rolls back to the source although the dead target cannot be asked", async () => {
    const s = setup({ source: false, target: new Error("lab2 is unreachable") });
    expect(await s.start("source")).toBe(true);
    expect(s.starts).toEqual(["source"]);
    expect(s.logs.join()).toMatch(/could not ask the target .*unreachable/);
  });

  it("starts when no host can tell (no status command)", async () => {
    const s = setup({ source: null, target: null });
    expect(await s.start("target")).toBe(true);
    expect(s.starts).toEqual(["target"]);
  });
});
