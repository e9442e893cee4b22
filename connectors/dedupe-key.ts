import { createHash } from 'node:crypto';

/** `sha256:<hex>` of a text: the dedupe key of input that carries no id of its own (DESIGN §6). */
export function hashKey(text: string): string {
  return `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`;
}
