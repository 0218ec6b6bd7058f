export {
  type CommonCopyOptions,
  copyExtents,
  copyFull,
  type ExtentCopyOptions,
  type FullCopyOptions,
  type TransferEndpoint,
  type TransferResult,
  type VerifyOptions,
  type VerifyResult,
  verifyPass,
  zeroBlockHash,
} from "./engine.ts";
export { RemoteOutputError, TruncatedStreamError, VerifyMismatchError } from "./errors.ts";
export { type RemoteProcess, type TransferHost, transferHostOf } from "./host.ts";
export type { ByteRun, ChunkRuns } from "./plan.ts";
export type { TransferProgress } from "./progress.ts";
export { RateLimiter } from "./rate-limiter.ts";
