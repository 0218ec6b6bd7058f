export * from "./errors.ts";
export { describeEndpoint, type HostEndpoint, SSH_ALGORITHMS, sshCryptoBindingAvailable } from "./endpoint.ts";
export { fingerprintOf, keyTypeOf, type ProbedHostKey, probeHostKey } from "./fingerprint.ts";
export { HostConnection, type ConnectionOptions, type ConnectionState, type ConnectionStats, type RemoteLogger } from "./connection.ts";
export { execOn, execStreamOn, type ExecOptions, type ExecResult, type RemoteStream } from "./exec.ts";
export {
  type ByteSource, byteSourceOf, openRemoteFile, readRange, type RangeOptions, type RemoteFile, SFTP_IN_FLIGHT,
  SFTP_REQUEST_BYTES, writeRange,
} from "./sftp.ts";
export { type Inventory, type InventoryExec, InventoryError, readInventory } from "./inventory.ts";
export { type HostHealth, type HostId, RemoteHosts, UnknownHostError } from "./manager.ts";
