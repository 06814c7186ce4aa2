/** Content digests used to name threads and dedup keys, and to stand in for values too large to send. */

import { createHash } from 'node:crypto';

/** SHA-256 of the UTF-8 encoding of `s`, as lowercase hex. */
export function sha256Hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}
