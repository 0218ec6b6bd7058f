import { SECTOR_BYTES } from "./cow-layout.ts";
import { ThinDeltaMissingDiffError, ThinDeltaMissingSuperblockError, ThinDeltaSyntaxError } from "./errors.ts";
import { type ExtentMap, ExtentMapBuilder, MAX_CHUNK_END } from "./extent-map.ts";

// Reads `thin_delta -m --snap1 A --snap2 B` output:
//   <superblock ... data_block_size="SECTORS" ...>
//     <diff left="A" right="B">
//       <same|different|left_only|right_only begin="BLOCK" length="BLOCKS"/>
//     </diff>
//   </superblock>
// The verbose form (an open <different> ... </different> holding <range begin=".." length=".."/>) is read too.
// Anything else is an error: an unknown element may carry changes we would otherwise skip.

export interface ThinDelta {
  /** Pool block size in bytes (data_block_size sectors * 512). */
  blockBytes: number;
  left: number;
  right: number;
  /** Blocks whose data is new in the right device: `different` and `right_only`. */
  data: ExtentMap;
  /** Blocks the right device no longer maps (`left_only`): discard or zero them on the target. */
  discard: ExtentMap;
}

export type TextInput = string | Uint8Array | Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>;

type Kind = "same" | "different" | "left_only" | "right_only";
const KINDS: readonly Kind[] = ["same", "different", "left_only", "right_only"];
const asKind = (name: string | null | undefined): Kind | undefined => KINDS.find((k) => k === name);
const MAX_TAG_CHARS = 64 * 1024;

interface Tag {
  name: string;
  closing: boolean;
  selfClosing: boolean;
  attrs: Map<string, string>;
  text: string;
}

export async function readThinDelta(input: TextInput): Promise<ThinDelta> {
  const parser = new ThinDeltaParser();
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const feed = (chunk: string | Uint8Array) =>
    parser.feed(typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true }));
  if (typeof input === "string" || input instanceof Uint8Array) feed(input);
  else if (Symbol.asyncIterator in input) for await (const chunk of input) feed(chunk);
  else for (const chunk of input) feed(chunk);
  parser.feed(decoder.decode());
  return parser.finish();
}

class ThinDeltaParser {
  private rest = "";
  private offset = 0; // characters consumed, for error messages
  private state: "prolog" | "superblock" | "diff" | "block" | "afterDiff" | "done" = "prolog";
  private blockBytes = 0;
  private left = 0;
  private right = 0;
  private openBlock: Kind | undefined;
  private sawDiff = false;
  private readonly data = new ExtentMapBuilder();
  private readonly discard = new ExtentMapBuilder();

  feed(text: string): void {
    let s = this.rest + text;
    let pos = 0;
    for (;;) {
      const lt = s.indexOf("<", pos);
      const gap = lt < 0 ? s.slice(pos) : s.slice(pos, lt);
      if (gap.trim() !== "") this.fail(`unexpected text ${JSON.stringify(gap.trim().slice(0, 40))}`, this.offset + pos);
      if (lt < 0) {
        pos = s.length;
        break;
      }
      const gt = s.indexOf(">", lt);
      if (gt < 0) {
        pos = lt;
        break;
      }
      this.element(parseTag(s.slice(lt, gt + 1), this.offset + lt), this.offset + lt);
      pos = gt + 1;
    }
    this.offset += pos;
    s = s.slice(pos);
    if (s.length > MAX_TAG_CHARS) this.fail("element longer than 64 KiB", this.offset);
    this.rest = s;
  }

  finish(): ThinDelta {
    if (this.rest.trim() !== "") this.fail("input ends inside an element", this.offset);
    if (this.state === "prolog") throw new ThinDeltaMissingSuperblockError("thin_delta output has no <superblock>");
    if (!this.sawDiff) throw new ThinDeltaMissingDiffError("thin_delta output has no <diff>: wrong --snap1/--snap2?");
    if (this.state !== "done") this.fail("input ends before </superblock>", this.offset);
    const data = this.data.build();
    const discard = this.discard.build();
    const twice = this.data.firstOverlap ?? this.discard.firstOverlap;
    if (twice !== undefined) this.fail(`block ${twice} is listed more than once`, this.offset);
    const both = data.intersect(discard);
    if (!both.isEmpty) this.fail(`block ${both.firstOf(0)} is both changed and discarded`, this.offset);
    return { blockBytes: this.blockBytes, left: this.left, right: this.right, data, discard };
  }

  private element(tag: Tag, at: number): void {
    switch (this.state) {
      case "prolog":
        if (tag.name === "?xml") return;
        if (tag.name !== "superblock" || tag.closing || tag.selfClosing) {
          throw new ThinDeltaMissingSuperblockError(`expected <superblock>, found ${tag.text.slice(0, 60)}`);
        }
        {
          const sectors = number(tag, "data_block_size", at);
          if (sectors < 1) this.fail("data_block_size must be positive", at);
          this.blockBytes = sectors * SECTOR_BYTES;
        }
        this.state = "superblock";
        return;
      case "superblock":
      case "afterDiff":
        if (tag.name === "diff" && !tag.closing && !tag.selfClosing && this.state === "superblock") {
          this.left = number(tag, "left", at);
          this.right = number(tag, "right", at);
          this.sawDiff = true;
          this.state = "diff";
          return;
        }
        if (tag.name === "superblock" && tag.closing) {
          this.state = "done";
          return;
        }
        break;
      case "diff": {
        if (tag.name === "diff" && tag.closing) {
          this.state = "afterDiff";
          return;
        }
        const kind = asKind(tag.name);
        if (kind && !tag.closing) {
          if (tag.selfClosing) this.range(kind, tag, at);
          else {
            this.openBlock = kind;
            this.state = "block";
          }
          return;
        }
        break;
      }
      case "block":
        if (tag.name === "range" && tag.selfClosing && this.openBlock) {
          this.range(this.openBlock, tag, at);
          return;
        }
        if (tag.name === this.openBlock && tag.closing) {
          this.state = "diff";
          return;
        }
        break;
      case "done":
        break;
    }
    this.fail(`unexpected ${tag.text.slice(0, 60)} (in ${this.state})`, at);
  }

  private range(kind: Kind, tag: Tag, at: number): void {
    const begin = number(tag, "begin", at);
    const length = number(tag, "length", at);
    if (begin + length > MAX_CHUNK_END) this.fail(`range ${begin}+${length} beyond 2^53`, at);
    if (kind === "different" || kind === "right_only") this.data.add(begin, length);
    else if (kind === "left_only") this.discard.add(begin, length);
  }

  private fail(message: string, at: number): never {
    throw new ThinDeltaSyntaxError(`thin_delta output near character ${at}: ${message}`);
  }
}

const TAG = /^<(\/?)([?A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*([/?]?)>$/;
const ATTR = /([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

function parseTag(text: string, at: number): Tag {
  const m = TAG.exec(text);
  if (!m)
    throw new ThinDeltaSyntaxError(`thin_delta output near character ${at}: malformed element ${text.slice(0, 60)}`);
  const [, slash, name = "", attrText = "", end] = m;
  const attrs = new Map<string, string>();
  for (const a of attrText.matchAll(ATTR)) attrs.set(a[1] as string, a[2] ?? a[3] ?? "");
  return { name, closing: slash === "/", selfClosing: end === "/" || end === "?", attrs, text };
}

function number(tag: Tag, attr: string, at: number): number {
  const v = tag.attrs.get(attr);
  if (v === undefined || !/^\d{1,16}$/.test(v) || !Number.isSafeInteger(Number(v))) {
    throw new ThinDeltaSyntaxError(
      `thin_delta output near character ${at}: <${tag.name}> needs a whole-number ${attr}, got ${v === undefined ? "none" : JSON.stringify(v)}`,
    );
  }
  return Number(v);
}
