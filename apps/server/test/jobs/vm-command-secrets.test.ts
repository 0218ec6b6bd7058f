// An operator's VM commands may hold credentials: a failing one must not put them into the job's events or its
// stored error (every websocket client receives those). The server log gets them at debug level, redacted.
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { createEventsRepo } from "../../src/db/repositories/events.ts";
import { createJobObjectsRepo } from "../../src/db/repositories/job-objects.ts";
import { RemoteCommandError } from "../../src/hosts/transport/errors.ts";
import { createJobExecutor } from "../../src/jobs/execute-job.ts";
import { createPhases } from "../../src/jobs/phases/index.ts";
import { fillDevices } from "../../src/jobs/vm/controller.ts";
import { redactSecrets } from "../../src/jobs/vm/redact.ts";
import { FakeLvmHost } from "../support/fake-host.ts";
import type { tempDb } from "../support/helpers.ts";
import { RecordingMover } from "../support/recording-mover.ts";
import { serviceJob } from "../support/service-job.ts";

const STOP = "curl -fsS -X POST -H 'Authorization: Bearer s3cr3t-token' https://vm-api.example/vms/vm1/stop";
const START = "curl -fsS -u admin:s3cr3t-pass https://vm-api.example/vms/vm1/start";

describe("VM commands holding a secret", () => {
  let t: ReturnType<typeof tempDb>;
  afterEach(() => t.cleanup());

  it("a failing stop command and a failing rollback leave no secret in the events or the job's error", async () => {
    const seeded = serviceJob({
      vm: { controller: "commands", stopSource: STOP, startSource: START, startTarget: "true" },
    });
    t = seeded.t;
    const { a, b, jobs, hub, job } = seeded;
    let log = "";
    const logger = pino(
      { level: "debug" },
      {
        write: (line: string) => {
          log += line;
        },
      },
    );
    // The stop command runs once the VM is marked stopping (the cutover gate passed before a crash).
    jobs.updateIfState(job.id, ["queued"], { phase: "stop_vm", phaseState: { vmStoppedAt: Date.now() } });
    const source = new FakeLvmHost(a, "hv-src").addVg("vg0", 1 << 30);
    const target = new FakeLvmHost(b, "hv-dst").addVg("vg0", 1 << 30);
    // What the SSH layer throws: its message and details carry the command line.
    const curlFails = (command: string, stderr: string) =>
      source.failNext(
        (argv) => argv[0] === "curl",
        new RemoteCommandError("root@10.0.0.1:22", command, 22, null, `${stderr}\n`),
      );
    curlFails(STOP, "curl: (22) The requested URL returned error: 401 (Bearer s3cr3t-token rejected)");
    curlFails(START, "curl: (22) The requested URL returned error: 503");
    const { phases, compensate, rollBack } = createPhases({
      mover: new RecordingMover(),
      objects: createJobObjectsRepo(t.db),
      logger,
    });
    const execute = createJobExecutor({
      jobs,
      hub,
      phases,
      compensate,
      rollBack,
      shellFor: async (id) => (id === a ? source : target),
    });
    const claimed = jobs.claim(job.id, "runner-1", 60_000);
    if (!claimed) throw new Error("claim failed");
    await execute(claimed, { owner: "runner-1", signal: new AbortController().signal });

    expect(source.commands).toEqual([STOP, START]);
    const stored = jobs.get(job.id);
    const events = createEventsRepo(t.db).listAfter(0, { jobId: job.id, limit: 1000 });
    expect(stored?.state).toBe("failed");
    expect(stored?.error).toMatchObject({
      code: "ROLLBACK_FAILED",
      message:
        "stop command on source host hv-src exited with 22: " +
        "curl: (22) The requested URL returned error: 401 (Bearer [redacted] rejected); " +
        "rollback: start command on source host hv-src exited with 22: curl: (22) The requested URL returned error: 503",
    });
    expect(events.map((e) => e.type)).toContain("job.created");
    for (const text of [JSON.stringify(events), JSON.stringify(stored?.error)]) {
      expect(text).not.toContain("s3cr3t");
      expect(text).not.toContain("vm-api.example");
      expect(text).not.toContain("10.0.0.1");
    }
    // The server log has the commands, at debug level and redacted.
    expect(log).not.toContain("s3cr3t");
    const debug = log
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { level: number; command?: string });
    expect(debug.filter((l) => l.level === 20).map((l) => l.command)).toEqual(
      expect.arrayContaining([
        "curl -fsS -X POST -H 'Authorization: Bearer [redacted]' https://vm-api.example/vms/vm1/stop",
        "curl -fsS -u admin:[redacted] https://vm-api.example/vms/vm1/start",
      ]),
    );
  });
});

describe("redactSecrets", () => {
  it.each([
    [
      "curl -H 'Authorization: Bearer abc.def' https://x/stop",
      "curl -H 'Authorization: Bearer [redacted]' https://x/stop",
    ],
    ['curl -H "X-Api-Key: abc123" https://x', 'curl -H "X-Api-Key: [redacted]" https://x'],
    ["mysqladmin --password=hunter2 shutdown", "mysqladmin --password=[redacted] shutdown"],
    ["PASSWORD=hunter2 ./stop.sh vm1", "PASSWORD=[redacted] ./stop.sh vm1"],
    ["stop.sh --token abc --vm vm1", "stop.sh --token [redacted] --vm vm1"],
    ["curl -u admin:hunter2 https://x", "curl -u admin:[redacted] https://x"],
    ["curl https://admin:hunter2@host/stop", "curl https://admin:[redacted]@host/stop"],
    ["virsh shutdown vm1", "virsh shutdown vm1"],
  ])("%s", (command, redacted) => {
    expect(redactSecrets(command)).toBe(redacted);
  });
});

describe("fillDevices", () => {
  it("puts disk 0's target path in {device} and every disk's, in order, in {devices}, each quoted", () => {
    expect(fillDevices("start {device} -- {devices}", ["/dev/vg1/root", "/dev/vg1/it's data"])).toBe(
      "start '/dev/vg1/root' -- '/dev/vg1/root' '/dev/vg1/it'\\''s data'",
    );
  });
});
