// Every failure this package reports is a ChangesError with a stable `code`, so callers (the CLI, the job
// runner) can map them without parsing messages. A store we cannot fully trust is always an error, never a
// shorter list.

export abstract class ChangesError extends Error {
  abstract readonly code: string;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The base of an error that needs nothing but its code and a message. */
const coded = <C extends string>(code: C) =>
  class extends ChangesError {
    readonly code = code;
  };

// --- byte sources ---

export class ByteSourceRangeError extends coded("BYTE_SOURCE_RANGE") {}

// --- dm-snapshot persistent store ---

export class CowBadMagicError extends ChangesError {
  readonly code = "COW_BAD_MAGIC";
  constructor(readonly magic: number) {
    super(
      magic === 0
        ? "COW store header is all zero: the snapshot was never activated (no SnAp header)"
        : `not a dm-snapshot COW store: magic 0x${magic.toString(16).padStart(8, "0")}, expected 0x70416e53 ("SnAp")`,
    );
  }
}

export class CowUnsupportedVersionError extends ChangesError {
  readonly code = "COW_UNSUPPORTED_VERSION";
  constructor(readonly version: number) {
    super(`unsupported COW store version ${version} (only version 1 exists)`);
  }
}

export class CowBadChunkSizeError extends ChangesError {
  readonly code = "COW_BAD_CHUNK_SIZE";
  constructor(
    readonly chunkSectors: number,
    reason: string,
  ) {
    super(`bad COW chunk size ${chunkSectors} sectors: ${reason}`);
  }
}

export class CowCorruptHeaderError extends coded("COW_CORRUPT_HEADER") {}

export class CowInvalidSnapshotError extends ChangesError {
  readonly code = "COW_INVALID_SNAPSHOT";
  constructor() {
    super("snapshot is invalid (valid=0): it overflowed or was dropped and its exception list cannot be trusted");
  }
}

export class CowTruncatedError extends coded("COW_TRUNCATED") {}

export class CowRecordOutOfRangeError extends coded("COW_RECORD_OUT_OF_RANGE") {}

export class CowDuplicateChunkError extends coded("COW_DUPLICATE_CHUNK") {}

export class CowCorruptTerminatorError extends coded("COW_CORRUPT_TERMINATOR") {}

export class CowCountMismatchError extends ChangesError {
  readonly code = "COW_COUNT_MISMATCH";
  constructor(
    readonly expected: number,
    readonly found: number,
  ) {
    super(`COW store holds ${found} exceptions but ${expected} were expected (from dmsetup status)`);
  }
}

// --- thin_delta ---

export class ThinDeltaSyntaxError extends coded("THIN_DELTA_SYNTAX") {}

export class ThinDeltaMissingSuperblockError extends coded("THIN_DELTA_MISSING_SUPERBLOCK") {}

export class ThinDeltaMissingDiffError extends coded("THIN_DELTA_MISSING_DIFF") {}

// --- extent maps ---

export class ExtentMapFormatError extends coded("EXTENT_MAP_FORMAT") {}

export class ExtentRangeError extends coded("EXTENT_RANGE") {}
