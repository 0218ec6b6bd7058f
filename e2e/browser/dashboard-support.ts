// Shared by the dashboard browser tests: a real server, headless Debian Chromium at laptop size, and a host
// "fleet" that is one real OpenSSH sshd on 127.0.0.1 whose PATH starts with stand-in LVM and virsh tools printing
// what the real tools print (LVM 2.03 JSON). Real LVM runs only in the lab (e2e/tests/dashboard-flow.test.ts).
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  type CutoverPolicy,
  type Host,
  isTerminalJobState,
  type Migration,
  type Role,
  type User,
  type VmControl,
} from "@blockferry/contracts";
import { loadConfig, type RunningServer, startServer } from "@blockferry/server";
import { type Browser, chromium, type Page } from "playwright-core";
import { expect, vi } from "vitest";
import { type LoopbackSshd, startLoopbackSshd } from "../../test-support/loopback-sshd.ts";
import { type LvReportRow, lvmReportJson, lvReportRow, vgReportRow } from "../../test-support/lvm-report.ts";

export const ARTIFACTS = resolve(import.meta.dirname, "../../test-results");
export const LAPTOP = { width: 1366, height: 768 };

/** The admin every dashboard server gets at start (unless asked for a first run), created offline. */
export const ADMIN = { username: "admin", password: "correct horse battery staple" } as const;

export type DashboardServer = RunningServer & {
  dataDir: string;
  /** An admin API token, for the test's own requests from Node (undefined on a first-run server). */
  adminToken: string | undefined;
  /** fetch() of a server path with the admin token and a JSON content type. */
  api(path: string, init?: RequestInit): Promise<Response>;
};

/** Bearer and JSON headers for `token`, under any the caller sets. */
export const tokenHeaders = (token: string | undefined, extra?: HeadersInit): Record<string, string> => ({
  ...(token ? { authorization: `Bearer ${token}` } : {}),
  "content-type": "application/json",
  ...(extra as Record<string, string> | undefined),
});

/**
 * A real server on a fresh data directory. Unless `firstRun`, an admin account (ADMIN) and an admin API token for
 * the test's own requests are created offline, through the server's runtime.
 */
export async function startDashboardServer(name: string, opts: { firstRun?: boolean } = {}): Promise<DashboardServer> {
  const dataDir = mkdtempSync(join(tmpdir(), `bf-${name}-`));
  const server = await startServer(
    loadConfig(["--port", "0", "--data-dir", dataDir], { BLOCKFERRY_LOG_LEVEL: "warn" }),
  );
  let adminToken: string | undefined;
  if (!opts.firstRun) {
    const admin = await server.runtime.auth.accounts.create({ ...ADMIN, role: "admin" });
    adminToken = server.runtime.auth.tokens.create(
      { name: "browser-tests", role: "admin" },
      { userId: admin.id, username: admin.username, role: admin.role, via: "session" },
      { name: "browser-tests", address: null },
    ).token;
  }
  return Object.assign(server, {
    dataDir,
    adminToken,
    api: (path: string, init: RequestInit = {}) =>
      fetch(`${server.url}${path}`, { ...init, headers: tokenHeaders(adminToken, init.headers) }),
  });
}

/** Fills and sends the dashboard's login form (the page must show it), then waits for the user menu. */
export async function logInThroughForm(page: Page, username: string, password: string): Promise<void> {
  const form = page.locator("form").filter({ has: page.getByRole("heading", { name: "Log in" }) });
  await form.getByLabel("Username").fill(username);
  await form.getByLabel("Password").fill(password);
  await form.getByRole("button", { name: "Log in" }).click();
  await page.getByTestId("current-user").filter({ hasText: username }).waitFor({ timeout: 15_000 });
}

let userSeq = 0;

/**
 * Logs `page` in through the real login form as the server's admin, or as a new user of `role` created offline.
 * Lands on the migrations list (or on `path`, through the login page's `?next=`).
 */
export async function loginAs(
  page: Page,
  server: DashboardServer,
  role: Role = "admin",
  path = "/jobs",
): Promise<{ username: string; password: string; user?: User }> {
  let creds: { username: string; password: string; user?: User } = { ...ADMIN };
  if (role !== "admin" || !server.adminToken) {
    const username = `${role}-${++userSeq}`;
    const password = `${role} password ${userSeq} for tests`;
    const user = await server.runtime.auth.accounts.create({ username, password, role });
    creds = { username, password, user };
  }
  await page.goto(`${server.url}/login?next=${encodeURIComponent(path)}`);
  await logInThroughForm(page, creds.username, creds.password);
  return creds;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  });
}

/** A laptop-sized page that records uncaught errors, so a test can assert the app never threw. */
export async function laptopPage(browser: Browser): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: LAPTOP });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  return { page, errors };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

type Row = Record<string, string>;
export const lvRow = (o: Partial<LvReportRow>): Row => lvReportRow(o);
const vgRow = (name: string, freeBytes: number): Row =>
  vgReportRow({ vg_name: name, vg_free: String(freeBytes), lv_count: "3" });

/** What the stand-in tools report: vg0 holds a VM disk and a data LV, vg1 a thin pool and free room. */
export const FLEET = {
  lvs: [
    lvRow({ lv_name: "web1-disk", lv_attr: "-wi-ao----", lv_size: String(256 << 20) }),
    lvRow({ lv_name: "data-1", lv_size: String(64 << 20) }),
    lvRow({
      vg_name: "vg1",
      lv_name: "pool1",
      lv_attr: "twi-aotz--",
      segtype: "thin-pool",
      data_percent: "12.50",
      metadata_percent: "3.10",
      chunk_size: "65536",
      lv_size: String(2 ** 30),
    }),
    lvRow({ vg_name: "vg1", lv_name: "scratch", lv_size: String(32 << 20) }),
  ],
  vgs: [vgRow("vg0", 2 * 2 ** 30), vgRow("vg1", 4 * 2 ** 30)],
};

/**
 * A libvirt domain the stand-in virsh reports, with its disks as `virsh domblklist --details` lists them and its
 * network interfaces (in `dumpxml` only): a libvirt network, a bridge or a host interface (direct) by name.
 */
export interface StandInDomain {
  name: string;
  state: string;
  disks: Array<{ type: string; device: string; target: string; source: string }>;
  interfaces?: Array<{ type: "network" | "bridge" | "direct"; source: string; mac: string }>;
}

/** FLEET's one VM: web1 on vg0/web1-disk. */
export const FLEET_DOMAINS: StandInDomain[] = [
  {
    name: "web1",
    state: "running",
    disks: [{ type: "block", device: "disk", target: "vda", source: "/dev/vg0/web1-disk" }],
  },
];

/**
 * More on the stand-in hosts than FLEET has: LVs (in FLEET's VGs), the libvirt domains instead of FLEET's, and the
 * libvirt networks (`virsh net-list --all --name`; none unless given).
 */
export interface FleetExtras {
  lvs?: Row[];
  domains?: StandInDomain[];
  networks?: string[];
}

const shArg = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** The stand-in virsh: list, domblklist, domstate and dumpxml of `domains`, net-list of `networks`, its version. */
function virshScript(domains: readonly StandInDomain[], networks: readonly string[]): string {
  const sourceAttr = { network: "network", bridge: "bridge", direct: "dev" } as const;
  const uuid = (i: number) => `5eb1d000-0000-4000-8000-${String(i + 1).padStart(12, "0")}`;
  const lines = (d: StandInDomain) =>
    [
      " Type   Device   Target   Source",
      "------------------------",
      ...d.disks.map((x) => ` ${x.type}  ${x.device}  ${x.target}  ${x.source}`),
      "",
    ]
      .map(shArg)
      .join(" ");
  const xml = (d: StandInDomain, i: number) =>
    [
      `<domain type='qemu'>`,
      `  <name>${d.name}</name>`,
      `  <uuid>${uuid(i)}</uuid>`,
      "  <devices>",
      ...d.disks.map(
        (x) =>
          `    <disk type='${x.type}' device='${x.device}'><source ${x.type === "file" ? "file" : "dev"}='${x.source}'/><target dev='${x.target}'/></disk>`,
      ),
      ...(d.interfaces ?? []).map(
        (x) =>
          `    <interface type='${x.type}'><mac address='${x.mac}'/><source ${sourceAttr[x.type]}='${x.source}'/><model type='virtio'/></interface>`,
      ),
      "  </devices>",
      "</domain>",
    ]
      .map(shArg)
      .join(" ");
  const each = (arg: string, body: (d: StandInDomain, i: number) => string) => [
    `  case "${arg}" in`,
    ...domains.map((d, i) => `  ${shArg(d.name)}) ${body(d, i)};;`),
    `  *) echo "error: failed to get domain '${arg}'" >&2; exit 1;;`,
    `  esac;;`,
  ];
  return [
    // The server asks `virsh --quiet ...` in its prechecks and controller, the inventory without it.
    `[ "$1" = --quiet ] && shift`,
    `case "$1" in`,
    `--version) echo 9.0.0;;`,
    `list) case "$3" in`,
    `  --uuid) printf '%s\\n' ${[...domains.map((_d, i) => uuid(i)), "''"].join(" ")};;`,
    `  *) printf '%s\\n' ${[...domains.map((d) => shArg(d.name)), "''"].join(" ")};;`,
    `  esac;;`,
    `domblklist)`,
    ...each("$4", (d) => `printf '%s\\n' ${lines(d)}`),
    `domstate)`,
    ...each("$3", (d) => `printf '%s\\n\\n' ${shArg(d.state)}`),
    `dumpxml)`,
    ...each("$3", (d, i) => `printf '%s\\n' ${xml(d, i)}`),
    `net-list) printf '%s\\n' ${[...networks.map(shArg), "''"].join(" ")};;`,
    `esac`,
  ].join("\n");
}

function tool(dir: string, name: string, body: string): void {
  writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(dir, name), 0o755);
}

/**
 * Stand-in lvs/vgs/dmsetup/virsh honouring the VG scope argument the server passes, plus lvcreate that refuses
 * (so a started job fails for real in its snapshot phase) and the real dd/sha256sum/b2sum/cmp/cat (what
 * prechecks probe).
 */
export function writeStandInTools(dir: string, opts: { vgs?: string[]; extras?: FleetExtras } = {}): void {
  mkdirSync(dir, { recursive: true });
  const report = (key: "lv" | "vg", rows: Row[]) => lvmReportJson(key, rows);
  const vgs = FLEET.vgs.filter((vg) => !opts.vgs || opts.vgs.includes(vg.vg_name as string));
  const lvs = [...FLEET.lvs, ...(opts.extras?.lvs ?? [])].filter((lv) => vgs.some((vg) => vg.vg_name === lv.vg_name));
  writeFileSync(join(dir, "lvs-all.json"), report("lv", lvs));
  writeFileSync(join(dir, "vgs-all.json"), report("vg", vgs));
  for (const vg of vgs) {
    const name = vg.vg_name as string;
    writeFileSync(
      join(dir, `lvs-${name}.json`),
      report(
        "lv",
        lvs.filter((l) => l.vg_name === name),
      ),
    );
    writeFileSync(join(dir, `vgs-${name}.json`), report("vg", [vg]));
  }
  const names = vgs.map((vg) => vg.vg_name as string);
  const scoped = (what: string) =>
    [
      `last=; for a in "$@"; do last=$a; done`,
      `case "$last" in`,
      `  ${names.join("|")}) cat '${dir}/${what}-'"$last"'.json';;`,
      `  ${names.map((n) => `${n}/*`).join("|")}) cat '${dir}/${what}-'"\${last%%/*}"'.json';;`,
      `  -*|*,*|'') cat '${dir}/${what}-all.json';;`,
      `  *) echo "  Volume group \\"$last\\" not found" >&2; exit 5;;`,
      `esac`,
    ].join("\n");
  tool(dir, "lvs", scoped("lvs"));
  tool(dir, "vgs", scoped("vgs"));
  tool(dir, "lvm", `printf '  LVM version:     2.03.16(2) (2022-05-18)\\n'`);
  tool(
    dir,
    "dmsetup",
    `case "$1" in --version) printf 'Library version:   1.02.185\\nDriver version:    4.47.0\\n';; *) exit 0;; esac`,
  );
  tool(dir, "thin_delta", "echo 0.9.0");
  // Fails like lvcreate on a host without device-mapper, after `lvcreate-delay` seconds (a test can hold a job there).
  writeFileSync(join(dir, "lvcreate-delay"), "0\n");
  tool(
    dir,
    "lvcreate",
    `sleep "$(cat '${dir}/lvcreate-delay')"; echo "  stand-in lvcreate: no device-mapper on this test host" >&2; exit 5`,
  );
  tool(dir, "virsh", virshScript(opts.extras?.domains ?? FLEET_DOMAINS, opts.extras?.networks ?? []));
  for (const real of [
    "/bin/cat",
    "/bin/dd",
    "/usr/bin/sha256sum",
    "/usr/bin/b2sum",
    "/usr/bin/cmp",
    "/bin/sh",
    "/usr/bin/head",
    "/usr/bin/printf",
    "/bin/sleep",
  ]) {
    try {
      symlinkSync(real, join(dir, real.split("/").pop() as string));
    } catch {
      // already there
    }
  }
}

export interface Fleet {
  sshd: LoopbackSshd;
  toolsDir: string;
  close(): Promise<void>;
}

/** `vgs`: only these of FLEET's VGs (and their LVs), for a host with less to choose from; `extras`: more on it. */
export async function startFleet(opts: { vgs?: string[]; extras?: FleetExtras } = {}): Promise<Fleet> {
  const toolsDir = mkdtempSync(join(tmpdir(), "bf-tools-"));
  writeStandInTools(toolsDir, opts);
  const sshd = await startLoopbackSshd({ path: `${toolsDir}:/usr/bin:/bin` });
  return {
    sshd,
    toolsDir,
    async close() {
      await sshd.stop();
      rmSync(toolsDir, { recursive: true, force: true });
    },
  };
}

/** Adds and trusts a host through the API (for tests whose subject is not the add-host flow). */
export async function addTrustedHost(server: DashboardServer, sshd: LoopbackSshd, name: string): Promise<Host> {
  const res = await server.api("/api/hosts", {
    method: "POST",
    body: JSON.stringify({
      name,
      address: sshd.host,
      port: sshd.port,
      username: sshd.username,
      privateKey: sshd.privateKey,
    }),
  });
  if (res.status !== 201) throw new Error(`add host: ${res.status} ${await res.text()}`);
  const added = (await res.json()) as { host: Host; fingerprint: string | null };
  if (added.fingerprint !== sshd.hostKeyFingerprint) throw new Error(`unexpected fingerprint ${added.fingerprint}`);
  const trust = await server.api(`/api/hosts/${added.host.id}/trust`, {
    method: "POST",
    body: JSON.stringify({ fingerprint: added.fingerprint }),
  });
  if (!trust.ok) throw new Error(`trust host: ${trust.status} ${await trust.text()}`);
  return (await trust.json()) as Host;
}

export interface TwoHostDashboard {
  server: DashboardServer;
  /** One sshd per host: a single loopback sshd shared by both hosts hits its MaxStartups throttle (10
   * unauthenticated connections) under the dashboard's parallel health, inventory and precheck calls. */
  fleet: Fleet;
  fleetB: Fleet;
  browser: Browser;
  page: Page;
  errors: string[];
  /** Added and trusted as hv-src (on `fleet`) and hv-dst (on `fleetB`). */
  src: Host;
  dst: Host;
  close(): Promise<void>;
}

/**
 * A dashboard server with two trusted hosts, and a laptop-sized page in headless Chromium (not logged in yet).
 * `targetVgs`: the VGs hv-dst has (default: all of FLEET's); `sourceExtras`: more LVs and other VMs on hv-src;
 * `targetNetworks`: hv-dst's libvirt networks (default none).
 */
export async function startTwoHostDashboard(
  name: string,
  opts: { targetVgs?: string[]; sourceExtras?: FleetExtras; targetNetworks?: string[] } = {},
): Promise<TwoHostDashboard> {
  const [server, fleet, fleetB, browser] = await Promise.all([
    startDashboardServer(name),
    startFleet(opts.sourceExtras ? { extras: opts.sourceExtras } : {}),
    // hv-dst is a fresh hypervisor: no VM defined there, so the VM's name and UUID are free.
    startFleet({
      ...(opts.targetVgs ? { vgs: opts.targetVgs } : {}),
      extras: { domains: [], networks: opts.targetNetworks ?? [] },
    }),
    launchChromium(),
  ]);
  const src = await addTrustedHost(server, fleet.sshd, "hv-src");
  const dst = await addTrustedHost(server, fleetB.sshd, "hv-dst");
  const { page, errors } = await laptopPage(browser);
  return {
    server,
    fleet,
    fleetB,
    browser,
    page,
    errors,
    src,
    dst,
    async close() {
      await browser.close();
      await server.close();
      await fleet.close();
      await fleetB.close();
    },
  };
}

/** The migration as the API shows it now. */
export async function jobOf(server: DashboardServer, id: number): Promise<Migration> {
  return (await (await server.api(`/api/migrations/${id}`)).json()) as Migration;
}

/**
 * A job created through the API from hv-src vg0/`lv` to hv-dst vg1 that ran and failed for real (no device-mapper
 * on the stand-in hosts): a real row the tests then move into the states they show. Returns the job as created.
 */
export async function failedJob(
  setup: Pick<TwoHostDashboard, "server" | "src" | "dst">,
  lv: string,
  opts: { targetLv?: string; vm?: VmControl } = {},
): Promise<Migration> {
  const res = await setup.server.api("/api/migrations", {
    method: "POST",
    body: JSON.stringify({
      source: { hostId: setup.src.id, vg: "vg0", lv },
      target: { hostId: setup.dst.id, vg: "vg1", lv: opts.targetLv ?? `${lv}-copy` },
      vm: opts.vm ?? { controller: "none" },
    }),
  });
  expect(res.status).toBe(201);
  const created = (await res.json()) as Migration;
  // vi.waitFor, not expect.poll: callers run this in beforeAll too, where expect.poll may not.
  await vi.waitFor(async () => expect((await jobOf(setup.server, created.id)).state).toBe("failed"), {
    timeout: 30_000,
    interval: 200,
  });
  return created;
}

/** Where a test moves a job: state and phase, and whichever stored columns the screen under test reads. */
export interface JobMove {
  state: Migration["state"];
  phase: Migration["phase"];
  /** Stored as the job's phase state, as given. */
  phaseState: Record<string, unknown>;
  /** The job's error (none when not given). */
  error?: Migration["error"];
  bytesTotal?: number;
  bytesDone?: number;
  outageMs?: number | null;
  startedAt?: string;
  finishedAt?: string | null;
  /** The cutover mode and policy. */
  cutoverPolicy?: CutoverPolicy;
}

/**
 * Moves a job on as a runner in another process would: its row (under that process's lease while the job is not
 * in a final state, so this server's runner leaves it alone), then the job.phase event the runner stores, which an
 * open job page follows. Columns `to` does not name keep their values.
 */
export function moveJob(server: DashboardServer, id: number, to: JobMove): void {
  const held = !isTerminalJobState(to.state);
  const columns: Array<[string, unknown]> = [
    ["state", to.state],
    ["phase", to.phase],
    ["phase_state", JSON.stringify(to.phaseState)],
    ["error", to.error ? JSON.stringify(to.error) : null],
    ["lease_owner", held ? "runner-in-another-process" : null],
    ["lease_expires_at", held ? Date.now() + 3_600_000 : null],
  ];
  if (to.bytesTotal !== undefined) columns.push(["bytes_total", to.bytesTotal]);
  if (to.bytesDone !== undefined) columns.push(["bytes_done", to.bytesDone]);
  if (to.outageMs !== undefined) columns.push(["outage_ms", to.outageMs]);
  if (to.startedAt !== undefined) columns.push(["started_at", to.startedAt]);
  if (to.finishedAt !== undefined) columns.push(["finished_at", to.finishedAt]);
  if (to.cutoverPolicy)
    columns.push(["cutover", to.cutoverPolicy.mode], ["cutover_policy", JSON.stringify(to.cutoverPolicy)]);
  server.runtime.db.$client
    .prepare(`update jobs set ${columns.map(([name]) => `${name}=?`).join(", ")} where id=?`)
    .run(...columns.map(([, value]) => value), id);
  server.runtime.hub.append(id, "job.phase", { phase: to.phase });
}
