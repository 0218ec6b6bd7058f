// Planning the cutover (issue 16) in the dashboard: the predicted downtime where the Cut over button is, refreshed
// by job.prediction events; why an automatic cutover waits and what the operator can do; the policy panel with its
// errors at the field; afterwards the predicted against the measured outage, the list's outage column with the
// budget, and the over-budget filter. Real server and sshd (stand-in LVM tools): jobs are created through the API and
// fail for real, then their rows are moved on under another process's lease, with the prediction and wait a runner
// would store, and announced through the server's event hub, as in dashboard-screens and dashboard-outage. Saving a
// policy and the filter's answer need the server's PUT /cutover-policy and ?overBudget=true (the server side of
// issue 16): those two tests skip, saying so, on a server without them.
import type { CutoverPolicy, CutoverWait, Migration, OutagePrediction } from "@blockferry/contracts";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  failedJob as failedJobOf,
  type JobMove,
  loginAs,
  moveJob,
  screenshot,
  startTwoHostDashboard,
  type TwoHostDashboard,
} from "./dashboard-support.ts";

const MiB = 2 ** 20;

const prediction = (o: Partial<OutagePrediction>): OutagePrediction => ({
  outageSeconds: 4.2,
  changedBytes: 12.3 * MiB,
  changedRuns: 412,
  parts: { stopSeconds: 1.6, deltaSeconds: 0.9, verifySeconds: 0.3, startSeconds: 1.4 },
  writeBytesPerSecond: 1.5 * MiB,
  basis: "delta at 38 MiB/s measured in catch-up 2; stop and start measured in migration #3 of this VM",
  at: new Date().toISOString(),
  ...o,
});

describe("dashboard: planning the cutover", () => {
  let setup: TwoHostDashboard;
  let server: TwoHostDashboard["server"];
  let page: Page;
  let errors: string[];
  let waitingId = 0;
  let overId = 0;
  let withinId = 0;

  /** Moves a 64 MiB job, started two minutes ago, on under `policy` as a runner in another process would. */
  const move = (
    id: number,
    to: Pick<JobMove, "state" | "phase"> & {
      phaseState?: Record<string, unknown>;
      policy: CutoverPolicy;
      outageMs?: number;
    },
  ) =>
    moveJob(server, id, {
      state: to.state,
      phase: to.phase,
      phaseState: { sizeBytes: 64 * MiB, ...to.phaseState },
      cutoverPolicy: to.policy,
      bytesTotal: 64 * MiB,
      bytesDone: 64 * MiB,
      outageMs: to.outageMs ?? null,
      startedAt: new Date(Date.now() - 120_000).toISOString(),
      finishedAt: to.state === "succeeded" ? new Date().toISOString() : null,
    });

  const failedJob = async (lv: string) => (await failedJobOf(setup, lv)).id;
  const forecast = () => page.getByTestId("cutover-prediction");

  beforeAll(async () => {
    setup = await startTwoHostDashboard("cutover-plan");
    ({ server, page, errors } = setup);
    [waitingId, overId, withinId] = await Promise.all([failedJob("plan1"), failedJob("plan2"), failedJob("plan3")]);
    move(waitingId, {
      state: "waiting_cutover",
      phase: "wait_cutover",
      policy: { mode: "auto", maxOutageSeconds: 3 },
      phaseState: { prediction: prediction({ at: new Date(Date.now() - 5_000).toISOString() }) },
    });
    move(overId, {
      state: "succeeded",
      phase: "done",
      policy: { mode: "auto", maxOutageSeconds: 5 },
      phaseState: { predictedOutageSeconds: 4.8 },
      outageMs: 6_200,
    });
    move(withinId, {
      state: "succeeded",
      phase: "done",
      policy: { mode: "auto", maxOutageSeconds: 5 },
      phaseState: { predictedOutageSeconds: 3.9 },
      outageMs: 3_400,
    });
    await loginAs(page, server);
  }, 90_000);
  afterAll(async () => {
    await setup?.close();
  });

  it("shows the predicted downtime by the Cut over button, refreshed by job.prediction, its parts on opening", async () => {
    await page.goto(`${server.url}/jobs/${waitingId}`);
    await expect
      .poll(() => forecast().textContent(), { timeout: 15_000 })
      .toMatch(/^Cut over now: about 4 s of downtime/);
    expect(await forecast().textContent()).toContain("12.3 MiB changed");
    await page.getByRole("button", { name: "Cut over…" }).waitFor();
    await expect.poll(() => page.locator(".conn").textContent(), { timeout: 15_000 }).toBe("live");

    // A newer prediction arrives as an event: shown without a reload, past a minute as a clock.
    server.runtime.hub.append(waitingId, "job.prediction", {
      phase: "wait_cutover",
      prediction: prediction({ outageSeconds: 72, changedBytes: 640 * MiB }),
    });
    await expect
      .poll(() => forecast().textContent(), { timeout: 15_000 })
      .toMatch(/^Cut over now: about 1:12 of downtime \(640 MiB changed/);

    await page.getByText("How this is predicted").click();
    await expect.poll(() => page.getByTestId("prediction-basis").isVisible()).toBe(true);
    expect(await page.getByTestId("prediction-basis").textContent()).toContain("measured in catch-up 2");
    expect(await forecast().locator("dd").allTextContents()).toEqual([
      "640 MiB in 412 runs",
      "1.6 s",
      "0.9 s",
      "0.3 s",
      "1.4 s",
      "1.50 MiB/s of changes",
    ]);
    await screenshot(page, "cutover-plan-prediction");

    // The confirmation says the same figure.
    await page.getByRole("button", { name: "Cut over…" }).click();
    await expect
      .poll(() => page.getByTestId("cutover-dialog-prediction").textContent())
      .toBe("Predicted: about 1:12 of downtime.");
    await page.getByRole("dialog").getByRole("button", { name: "Back" }).click();
    expect(errors).toEqual([]);
  });

  it("marks the cells the VM changed while the job waits as changed on the map, at each new reading", async () => {
    await page.goto(`${server.url}/jobs/${waitingId}`);
    const legend = page.locator(".swatch-changed").locator("..");
    await expect.poll(() => legend.textContent(), { timeout: 15_000 }).toMatch(/changed 0$/);
    // A reading of the snapshot stores the cells it found and announces a prediction: the page asks for the map again.
    const row = server.runtime.db.$client.prepare("select phase_state from jobs where id=?").get(waitingId) as {
      phase_state: string;
    };
    const state = {
      ...JSON.parse(row.phase_state),
      liveChangedCells: [
        [10, 5],
        [100, 20],
      ],
    };
    server.runtime.db.$client.prepare("update jobs set phase_state=? where id=?").run(JSON.stringify(state), waitingId);
    server.runtime.hub.append(waitingId, "job.prediction", { phase: "wait_cutover", prediction: prediction({}) });
    await expect.poll(() => legend.textContent(), { timeout: 15_000 }).toMatch(/changed 25$/);
    await screenshot(page, "cutover-plan-live-changed-cells");
  });

  it("says why an automatic cutover waits; 'change the policy' opens the panel, whose errors stand at the field", async () => {
    const wait: CutoverWait = {
      reason: "not_converging",
      message: "5 catch-up passes left 640 MiB changed: about 1:12 of downtime, over the 3 s budget",
      until: null,
    };
    server.runtime.db.$client
      .prepare("update jobs set phase_state=json_set(phase_state, '$.cutoverWait', json(?)) where id=?")
      .run(JSON.stringify(wait), waitingId);
    server.runtime.hub.append(waitingId, "job.cutover_waiting", { phase: "wait_cutover", ...wait });
    const banner = page.getByTestId("cutover-wait");
    await expect.poll(() => banner.isVisible(), { timeout: 15_000 }).toBe(true);
    expect(await banner.textContent()).toContain("Not converging: an operator decides");
    expect(await page.getByTestId("cutover-wait-message").textContent()).toContain("over the 3 s budget");
    expect(await banner.textContent()).toContain("It waits for an operator.");
    // Cut over stays at hand, and so does the policy.
    await page.getByRole("button", { name: "Cut over…" }).waitFor();
    expect(await page.getByTestId("policy-summary").textContent()).toBe("automatic, outage budget 3 s");
    await banner.getByRole("button", { name: "change the policy" }).click();
    const form = page.getByRole("form", { name: "Cutover policy" });
    await form.waitFor({ state: "visible" });

    const budget = form.getByLabel("Outage budget (seconds)");
    expect(await budget.inputValue()).toBe("3");
    await budget.fill("0.01");
    await form.getByLabel("Not before").fill("2026-12-03T22:00");
    await form.getByLabel("Not after").fill("2026-12-03T21:00");
    await form.getByRole("button", { name: "Save policy" }).click();
    await expect.poll(() => budget.getAttribute("aria-invalid")).toBe("true");
    expect(await page.locator("#policy-maxOutageSeconds-note").textContent()).toBe(
      "Seconds from 0.1 to 86400 (a day).",
    );
    expect(await page.locator("#policy-notAfter-note").textContent()).toContain("Must be later than");
    // Fixing a field clears its error at once, the other stays.
    await budget.fill("8");
    await expect.poll(() => budget.getAttribute("aria-invalid")).toBeNull();
    expect(await form.getByLabel("Not after").getAttribute("aria-invalid")).toBe("true");
    await page.setViewportSize({ width: 800, height: 800 });
    const sideways = (await page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")) as number;
    expect(sideways, "no sideways scroll at 800 px").toBeLessThanOrEqual(0);
    await screenshot(page, "cutover-plan-policy-panel");
    await page.setViewportSize({ width: 1366, height: 768 });
    expect(errors).toEqual([]);
  });

  it("saves a new policy through PUT /cutover-policy", async () => {
    const probe = await server.api(`/api/migrations/${waitingId}/cutover-policy`, {
      method: "PUT",
      body: JSON.stringify({ mode: "auto", maxOutageSeconds: 0.01 }),
    });
    expect(probe.status).toBe(400);

    const form = page.getByRole("form", { name: "Cutover policy" });
    if (!(await form.isVisible())) await page.getByText("Cutover policy").first().click();
    await form.getByLabel("Outage budget (seconds)").fill("8");
    await form.getByLabel("Most catch-up passes").fill("2");
    await form.getByLabel("Not before").fill("");
    await form.getByLabel("Not after").fill("");
    await form.getByRole("button", { name: "Save policy" }).click();
    await expect
      .poll(() => page.getByTestId("policy-summary").textContent(), { timeout: 15_000 })
      .toBe("automatic, outage budget 8 s, up to 2 catch-up passes");
    await expect.poll(() => form.getByRole("status").textContent()).toContain("Saved");
    const stored = (await (await server.api(`/api/migrations/${waitingId}`)).json()) as Migration;
    expect(stored.cutoverPolicy).toEqual({ mode: "auto", maxOutageSeconds: 8, maxPasses: 2 });
    expect(errors).toEqual([]);
  });

  it("names the time a window wait ends in the browser's words, not the server's ISO form", async () => {
    const until = "2026-12-03T22:00:00.000Z";
    const wait: CutoverWait = {
      reason: "before_window",
      message: `the cutover window opens at ${until}: the VM keeps running until then`,
      until,
    };
    server.runtime.db.$client
      .prepare("update jobs set phase_state=json_set(phase_state, '$.cutoverWait', json(?)) where id=?")
      .run(JSON.stringify(wait), waitingId);
    server.runtime.hub.append(waitingId, "job.cutover_waiting", { phase: "wait_cutover", ...wait });
    const message = page.getByTestId("cutover-wait-message");
    await expect.poll(() => message.textContent(), { timeout: 15_000 }).toContain("the cutover window opens at");
    expect(await message.textContent()).not.toContain("T22:00");
    expect(await message.locator("time").getAttribute("datetime")).toBe(until);
    expect(await page.getByTestId("cutover-wait").textContent()).toContain("It looks again by itself at");
    expect(errors).toEqual([]);
  });

  it("puts the predicted and measured outage side by side, and the list marks an outage over its budget", async () => {
    await page.goto(`${server.url}/jobs/${overId}`);
    const facts = page.getByTestId("facts-outage");
    await facts.waitFor({ timeout: 15_000 });
    expect(await page.getByTestId("facts-outage-predicted").textContent()).toBe("predicted 4.8 s");
    expect(await page.getByTestId("facts-outage-measured").textContent()).toBe("measured 6.2 s (over budget)");
    expect(await page.getByTestId("facts-outage-budget").textContent()).toBe("budget 5 s");
    expect(await page.getByTestId("facts-outage-error").textContent()).toBe("29% longer than predicted");
    await screenshot(page, "cutover-plan-finished-facts");

    await page.goto(`${server.url}/jobs`);
    const over = page.getByTestId(`job-outage-${overId}`);
    await over.waitFor({ timeout: 15_000 });
    expect(await over.textContent()).toBe("6.2 sover 5 s budget");
    expect(await page.getByTestId(`job-outage-${withinId}`).textContent()).toBe("3.4 sof 5 s budget");
    expect(await over.locator(".bad").count()).toBe(2);
    // No outage measured yet: only the budget (8 s since the save above).
    expect(await page.getByTestId(`job-outage-${waitingId}`).textContent()).toBe("–budget 8 s");
    await page.getByLabel("Over budget only").check();
    await expect.poll(() => new URL(page.url()).searchParams.get("overBudget")).toBe("true");
    await screenshot(page, "cutover-plan-jobs-outage");
    expect(errors).toEqual([]);
  });

  it("filters the list to migrations over their budget", async () => {
    const answer = (await (await server.api("/api/migrations?overBudget=true")).json()) as { migrations: Migration[] };
    expect(answer.migrations.map((m) => m.id)).toContain(overId);
    expect(answer.migrations.map((m) => m.id)).not.toContain(withinId);
    await page.goto(`${server.url}/jobs?overBudget=true`);
    await page.getByTestId(`job-row-${overId}`).waitFor({ timeout: 15_000 });
    expect(await page.getByTestId(`job-row-${withinId}`).count()).toBe(0);
    expect(await page.getByTestId(`job-row-${waitingId}`).count()).toBe(0);
    expect(await page.getByLabel("Over budget only").isChecked()).toBe(true);
    expect(errors).toEqual([]);
  });
  it("the wizard: an automatic cutover takes a budget, a pass limit and a window, and Review says them", async () => {
    await page.goto(`${server.url}/migrations/new`);
    await page.getByRole("radio", { name: /hv-src/ }).check({ timeout: 15_000 });
    await page.getByRole("radio", { name: /^Logical volumes/ }).check({ timeout: 15_000 });
    await page.getByRole("checkbox", { name: /^vg0\/data-1/ }).check();
    await page.getByRole("button", { name: /^Next:/ }).click();
    await page.getByRole("radio", { name: /^VG vg1/ }).check({ timeout: 15_000 });
    // Manual: no policy fields.
    expect(await page.getByTestId("wizard-policy").count()).toBe(0);
    await page.getByRole("radio", { name: /Automatic/ }).check();
    const policy = page.getByTestId("wizard-policy");
    await policy.waitFor();
    const budget = policy.getByLabel("Outage budget (seconds)");
    await budget.fill("0.01");
    await expect.poll(() => budget.getAttribute("aria-invalid")).toBe("true");
    expect(await page.locator("#wizard-policy-maxOutageSeconds-note").textContent()).toBe(
      "Seconds from 0.1 to 86400 (a day).",
    );
    // Only the unusable budget holds the step back: once it is usable, Next is enabled.
    expect(await page.getByRole("button", { name: /^Next:/ }).isDisabled()).toBe(true);
    await budget.fill("5");
    await policy.getByLabel("Most catch-up passes").fill("3");
    await policy.getByLabel("Not before").fill("2026-12-03T22:00");
    await expect.poll(() => page.getByRole("button", { name: /^Next:/ }).isDisabled()).toBe(false);
    await screenshot(page, "cutover-plan-wizard-policy");
    await page.getByRole("button", { name: /^Next:/ }).click();
    await expect
      .poll(() => page.getByTestId("review-cutover").textContent(), { timeout: 15_000 })
      .toMatch(/^automatic, outage budget 5 s, up to 3 catch-up passes, not before .*2026/);
    expect(errors).toEqual([]);
  });
});
