/**
 * NDJSON framing: bytes in, lines out, one chunk at a time — a file is never held whole, only the current line.
 * Lines end at LF; a CR before it is dropped (CRLF files); blank and whitespace-only lines are skipped; the last
 * line needs no newline. The bytes must be UTF-8 (a leading BOM is ignored); invalid UTF-8 throws a TypeError.
 */
export async function* splitLines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string, void, undefined> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  // Pieces of the current line from earlier chunks, joined once its end arrives (no quadratic concatenation).
  let pending: string[] = [];
  for await (const chunk of chunks) {
    const text = decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      const piece = text.slice(start, nl);
      const line = pending.length === 0 ? piece : pending.join('') + piece;
      pending = [];
      start = nl + 1;
      const kept = clean(line);
      if (kept !== undefined) yield kept;
    }
    if (start < text.length) pending.push(start === 0 ? text : text.slice(start));
  }
  const kept = clean(pending.join('') + decoder.decode());
  if (kept !== undefined) yield kept;
}

function clean(line: string): string | undefined {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  return text.trim() === '' ? undefined : text;
}
