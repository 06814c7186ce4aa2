/**
 * Bytes that are no UTF-8, as the replay says them: for any bytes, read whole or as a stream cut into any chunks, the
 * sequences counted are those the decoder reads as U+FFFD (a genuine U+FFFD, EF BF BD, is none of them; a character
 * the input ends inside is left to the truncation), and the first is where the decoder meets the first of them.
 *
 * More runs: RUNS=2000 npx jest test/replay/utf8.properties.test.ts
 */

import { Readable } from 'node:stream';
import fc from 'fast-check';
import { eachLine } from '../../lambda/replay/lines';
import { scanUtf8 } from '../../lambda/replay/utf8';

jest.mock('node:fs', () => ({ ...jest.requireActual('node:fs'), createReadStream: jest.fn() }));
const { createReadStream } = jest.requireMock('node:fs') as { createReadStream: jest.Mock };

const RUNS = Number(process.env.RUNS ?? 300);

/** What the decoder makes of `bytes`: the invalid sequences it reads as U+FFFD, and the first one's offset and line. */
function decoded(bytes: Uint8Array): { count: number; first: number; line: number } {
  // As a stream: a character the bytes end inside is held back, not yet U+FFFD.
  const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes, { stream: true });
  // A genuine U+FFFD is its three bytes wherever they are: EF is no continuation byte, so no sequence takes it in.
  let genuine = 0;
  for (let at = bytes.indexOf(0xef); at !== -1; at = bytes.indexOf(0xef, at + 1))
    if (bytes[at + 1] === 0xbf && bytes[at + 2] === 0xbd) genuine++;
  const count = [...text].filter((char) => char === '\ufffd').length - genuine;
  // Up to the first invalid sequence, every character is its own UTF-8 bytes.
  let first = -1;
  let offset = 0;
  for (const char of text) {
    if (char === '\ufffd' && !(bytes[offset] === 0xef && bytes[offset + 1] === 0xbf && bytes[offset + 2] === 0xbd)) {
      first = offset;
      break;
    }
    offset += Buffer.byteLength(char);
  }
  const line = first === -1 ? 0 : 1 + bytes.subarray(0, first).filter((byte) => byte === 0x0a).length;
  return { count, first, line };
}

/** Bytes mixing valid characters (U+FFFD among them), line breaks, stray bytes and the near misses of UTF-8. */
const bytes = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 4 }).map((s) => [...Buffer.from(s)]),
      fc.constantFrom([0x0a], [0xef, 0xbf, 0xbd], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x94, 0x91]),
      fc.integer({ min: 0, max: 255 }).map((b) => [b]),
      // Leads cut short, overlong forms, surrogates, past U+10FFFF.
      fc.constantFrom([0xe2, 0x82], [0xf0, 0x9f, 0x94], [0xe0, 0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90]),
    ),
    { maxLength: 40 },
  )
  .map((parts) => Uint8Array.from(parts.flat()));

/** Bytes and where a stream cuts them into chunks. */
const chunked = bytes.chain((data) =>
  fc
    .uniqueArray(fc.integer({ min: 0, max: data.length }), { maxLength: 8 })
    .map((cuts) => ({ data, cuts: cuts.sort((a, b) => a - b) })),
);

/** Reads `data` as `eachLine` does a file, the stream handing over the given chunks. */
async function streamed(data: Uint8Array, cuts: number[]) {
  const ends = [...cuts, data.length];
  const chunks = ends.map((end, i) => Buffer.from(data.subarray(i === 0 ? 0 : ends[i - 1], end)));
  createReadStream.mockImplementation(() => Readable.from(chunks));
  const end = await eachLine('chunks', { gzip: false, maxLineLength: 1 << 20, onLongLine: () => {} }, () => true);
  return end.notUtf8;
}

describe('bytes that are no UTF-8', () => {
  test('are counted read whole as the decoder reads them as U+FFFD, the first where it meets it; valid UTF-8 never is', () => {
    fc.assert(
      fc.property(bytes, (data) => {
        const expected = decoded(data);
        const scan = scanUtf8(data);
        expect({ count: scan.count, first: scan.first }).toEqual({ count: expected.count, first: expected.first });
      }),
      // Invalid whatever follows, though the input ends there: no character it ends inside.
      { numRuns: RUNS, examples: [[Uint8Array.from([0xf4, 0x90])], [Uint8Array.from([0x7b, 0xe0, 0x80])]] },
    );
  });

  test('are counted alike read as a stream, whatever chunks it hands over, with the line of the first', async () => {
    await fc.assert(
      fc.asyncProperty(chunked, async ({ data, cuts }) => {
        const expected = decoded(data);
        expect(await streamed(data, cuts)).toEqual(expected.count ? expected : undefined);
      }),
      { numRuns: RUNS, examples: [[{ data: Uint8Array.from([0x0a, 0xed, 0xa0]), cuts: [1] }]] },
    );
  });
});
