export type { DirectPath } from "./direct/batch.ts";
export {
  type CommonCopyOptions,
  copyExtents,
  copyFull,
  type ExtentCopyOptions,
  type FullCopyOptions,
  type TransferEndpoint,
  type TransferResult,
  zeroBlockHash,
} from "./engine.ts";
export { RemoteOutputError, TruncatedStreamError, VerifyMismatchError } from "./errors.ts";
export { type RemoteProcess, type TransferHost, transferHostOf } from "./host.ts";
export type { ByteRun, ChunkRuns } from "./plan.ts";
export type { TransferProgress } from "./progress.ts";
export { RateLimiter } from "./rate-limiter.ts";
export { type VerifyOptions, type VerifyResult, verifyRanges } from "./verify.ts";
