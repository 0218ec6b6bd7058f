export {
  type ConnectionOptions,
  type ConnectionState,
  type ConnectionStats,
  HostConnection,
  type RemoteLogger,
} from "./connection.ts";
export { describeEndpoint, type HostEndpoint, SSH_ALGORITHMS, sshCryptoBindingAvailable } from "./endpoint.ts";
export * from "./errors.ts";
export { type ExecOptions, type ExecResult, execOn, execStreamOn, type RemoteStream } from "./exec.ts";
export { fingerprintOf, keyTypeOf, type ProbedHostKey, probeHostKey } from "./fingerprint.ts";
export { type Inventory, InventoryError, type InventoryExec, readInventory } from "./inventory.ts";
export { type HostHealth, type HostId, INVENTORY_MAX_OUTPUT_BYTES, RemoteHosts, UnknownHostError } from "./manager.ts";
export {
  type ByteSource,
  byteSourceOf,
  openRemoteFile,
  type RangeOptions,
  type RemoteFile,
  readRange,
  SFTP_IN_FLIGHT,
  SFTP_REQUEST_BYTES,
  writeRange,
} from "./sftp.ts";
