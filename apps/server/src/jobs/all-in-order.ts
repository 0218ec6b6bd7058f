/**
 * Promise.all for questions asked at once that used to be asked one after another: waits for every answer, and
 * when some fail, throws the error of the first in the given order (not the first to arrive), so what a failure
 * says does not depend on which host answered faster.
 */
export async function allInOrder<T extends readonly unknown[] | []>(
  values: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled = await Promise.allSettled(values);
  for (const s of settled) if (s.status === "rejected") throw s.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}
