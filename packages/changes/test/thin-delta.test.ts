import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ChangesError,
  readThinDelta,
  ThinDeltaMissingDiffError,
  ThinDeltaMissingSuperblockError,
  ThinDeltaSyntaxError,
} from "../src/index.ts";

// Shaped like thin-provisioning-tools' thin_delta output (see FORMATS.md).
const SAMPLE = `<superblock uuid="" time="2" transaction="3" data_block_size="128" nr_data_blocks="4096">
  <diff left="1" right="2">
    <same begin="0" length="16"/>
    <different begin="16" length="2"/>
    <same begin="18" length="10"/>
    <right_only begin="28" length="4"/>
    <left_only begin="40" length="3"/>
    <different begin="32" length="1"/>
  </diff>
</superblock>
`;

async function* chunksOf(text: string, size: number) {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

describe("readThinDelta", () => {
  it("maps different/right_only to data, left_only to discard, same to nothing", async () => {
    const d = await readThinDelta(SAMPLE);
    expect(d.blockBytes).toBe(65536);
    expect([d.left, d.right]).toEqual([1, 2]);
    expect(d.data.toJSON()).toEqual([
      [16, 2],
      [28, 5],
    ]);
    expect(d.discard.toJSON()).toEqual([[40, 3]]);
  });

  it("reads streamed input split anywhere, as strings or bytes", async () => {
    const whole = await readThinDelta(SAMPLE);
    for (const size of [1, 2, 7, 64]) {
      const d = await readThinDelta(chunksOf(SAMPLE, size));
      expect(d.data.equals(whole.data) && d.discard.equals(whole.discard)).toBe(true);
    }
    const bytes = new TextEncoder().encode(SAMPLE);
    const parts = [bytes.subarray(0, 33), bytes.subarray(33)];
    expect((await readThinDelta(parts)).data.equals(whole.data)).toBe(true);
  });

  it("reads the verbose block form and an XML prolog", async () => {
    const d = await readThinDelta(`<?xml version="1.0"?>
<superblock data_block_size="256">
 <diff left="5" right="7">
  <different>
   <range begin="3" data_begin="900" length="2"/>
   <range begin="9" data_begin="950" length="1"/>
  </different>
  <left_only>
   <range begin="20" data_begin="10" length="1"/>
  </left_only>
 </diff>
</superblock>`);
    expect(d.blockBytes).toBe(131072);
    expect(d.data.toJSON()).toEqual([
      [3, 2],
      [9, 1],
    ]);
    expect(d.discard.toJSON()).toEqual([[20, 1]]);
  });

  it("an empty diff is no change", async () => {
    const d = await readThinDelta('<superblock data_block_size="128"><diff left="1" right="2"></diff></superblock>');
    expect(d.data.isEmpty && d.discard.isEmpty).toBe(true);
  });

  it("refuses malformed input with typed errors", async () => {
    const bad: [string, new (...a: never[]) => ChangesError][] = [
      ["", ThinDeltaMissingSuperblockError],
      ["thin_delta: no such device", ThinDeltaSyntaxError],
      ['<diff left="1" right="2"></diff>', ThinDeltaMissingSuperblockError],
      ['<superblock data_block_size="128"></superblock>', ThinDeltaMissingDiffError],
      ["<superblock><diff left='1' right='2'></diff></superblock>", ThinDeltaSyntaxError], // no block size
      ['<superblock data_block_size="0"><diff left="1" right="2"></diff></superblock>', ThinDeltaSyntaxError],
      [
        '<superblock data_block_size="128"><diff left="1" right="2"><different begin="1"/></diff></superblock>',
        ThinDeltaSyntaxError,
      ],
      [
        '<superblock data_block_size="128"><diff left="1" right="2"><different begin="-1" length="2"/></diff></superblock>',
        ThinDeltaSyntaxError,
      ],
      [
        '<superblock data_block_size="128"><diff left="1" right="2"><moved begin="1" length="2"/></diff></superblock>',
        ThinDeltaSyntaxError,
      ],
      [
        '<superblock data_block_size="128"><diff left="1" right="2"><different begin="1" length="2"/>',
        ThinDeltaSyntaxError,
      ], // cut short
      ['<superblock data_block_size="128"><diff left="1" right="2"><different begin="1" len', ThinDeltaSyntaxError],
      [
        '<superblock data_block_size="128"><diff left="1" right="2"><different begin="1" length="2"/><right_only begin="2" length="1"/></diff></superblock>',
        ThinDeltaSyntaxError,
      ], // overlap
      [
        '<superblock data_block_size="128"><diff left="1" right="2"><different begin="1" length="2"/><left_only begin="2" length="1"/></diff></superblock>',
        ThinDeltaSyntaxError,
      ], // changed and discarded
      [
        '<superblock data_block_size="128"><diff left="1" right="2"></diff><diff left="1" right="2"></diff></superblock>',
        ThinDeltaSyntaxError,
      ],
      [
        '<superblock data_block_size="128"><diff left="1" right="2"></diff></superblock> trailing',
        ThinDeltaSyntaxError,
      ],
      [
        '<superblock data_block_size="99999999999999999"><diff left="1" right="2"></diff></superblock>',
        ThinDeltaSyntaxError,
      ],
    ];
    for (const [text, type] of bad) {
      await expect(readThinDelta(text), text).rejects.toThrow(type);
    }
  });

  it("any damage to a valid output gives a typed error or a well-formed answer", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.string({ maxLength: 3 }), fc.nat({ max: 3 }), async (at, insert, cut) => {
        const i = at % SAMPLE.length;
        const text = SAMPLE.slice(0, i) + insert + SAMPLE.slice(i + cut);
        try {
          const d = await readThinDelta(text);
          expect(d.data.intersect(d.discard).isEmpty).toBe(true);
          expect(d.blockBytes % 512).toBe(0);
        } catch (e) {
          expect(e).toBeInstanceOf(ChangesError);
        }
      }),
    );
  });
});
