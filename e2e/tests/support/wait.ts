const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `probe` holds (a state to wait on, never a fixed sleep). */
export async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}
