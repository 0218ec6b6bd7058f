export { type Inventory, InventoryError, type InventoryExec, readInventory } from "./inventory/inventory.ts";
export {
  type ConnectionOptions,
  type ConnectionState,
  type ConnectionStats,
  HostConnection,
  type RemoteLogger,
} from "./transport/connection.ts";
export {
  describeEndpoint,
  type HostEndpoint,
  SSH_ALGORITHMS,
  sshCryptoBindingAvailable,
} from "./transport/endpoint.ts";
export * from "./transport/errors.ts";
export { type ExecOptions, type ExecResult, execOn, execStreamOn, type RemoteStream } from "./transport/exec.ts";
export {
  fingerprintOf,
  fingerprintOfKeyLine,
  keyTypeOf,
  type ProbedHostKey,
  probeHostKey,
} from "./transport/host-key.ts";
export {
  type HostHealth,
  type HostId,
  INVENTORY_MAX_OUTPUT_BYTES,
  RemoteHosts,
  UnknownHostError,
} from "./transport/manager.ts";
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
} from "./transport/sftp.ts";
