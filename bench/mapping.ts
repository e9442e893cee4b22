/**
 * bench/mapping: parse → map → decide throughput over the public HL7 v2 fixtures repeated to N messages
 * (default 100,000), on one core (Node's main thread), plus peak RSS. Prints figures; never pass/fail.
 *
 *   npm run bench:mapping                 # 100,000 messages
 *   node dist/bench/mapping.js 20000      # another count
 *   FIXTURES=/path/to/hl7 npm run bench:mapping
 *
 * Each message is parsed, mapped with mappings/hl7v2-default.yaml, folded into a fresh snapshot and decided
 * (eligibility R01–R20 + desired accounts), which is the per-message work of the daemon's ingest + decide step.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { hl7ToSnapshot } from '../connectors/hl7v2/to-snapshot';
import { decide } from '../src/core/eligibility';
import { parseHl7, splitHl7 } from '../src/core/hl7/message';
import { loadMapping } from '../src/core/mapping/load';
import { SnapshotBuilder } from '../src/core/snapshot';
import { isBridgeError } from '../src/errors';

const root = path.resolve(__dirname, '..', '..');
const fixtures = process.env.FIXTURES ?? path.resolve(root, '..', 'shared', 'fixtures', 'public', 'hl7');
const total = Number(process.argv[2] ?? 100_000);
const asOf = '2026-11-23';

const loaded = loadMapping(readFileSync(path.join(root, 'mappings', 'hl7v2-default.yaml'), 'utf8'), 'hl7v2-default.yaml');
if (!loaded.ok) throw new Error('default mapping does not load');
const mapping = loaded.mapping;

const messages = readdirSync(fixtures)
  .filter((f) => f.endsWith('.hl7'))
  .sort()
  .flatMap((f) => splitHl7(readFileSync(path.join(fixtures, f), 'utf8')))
  .filter((m) => m.problem === undefined)
  .map((m) => m.text);
if (messages.length === 0) throw new Error(`no HL7 messages under ${fixtures}`);

function run(pool: readonly string[], count: number): { accepted: number; rejected: number; decisions: number } {
  let accepted = 0;
  let rejected = 0;
  let decisions = 0;
  for (let i = 0; i < count; i++) {
    const text = pool[i % pool.length] as string;
    try {
      const mapped = hl7ToSnapshot(parseHl7(text), mapping);
      const snapshot = new SnapshotBuilder();
      for (const op of mapped.ops) snapshot.apply(op);
      decisions += decide(snapshot, mapping.policy, asOf).decisions.length;
      accepted++;
    } catch (e) {
      if (!isBridgeError(e)) throw e;
      rejected++;
    }
  }
  return { accepted, rejected, decisions };
}

function measure(label: string, pool: readonly string[]): void {
  run(pool, Math.min(5_000, total)); // warm-up: JIT, path caches
  const started = process.hrtime.bigint();
  const r = run(pool, total);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(`${label}: ${pool.length} distinct messages repeated to ${total.toLocaleString('en-US')}`);
  console.log(`  accepted ${r.accepted}, rejected ${r.rejected} (by the default mapping), decisions ${r.decisions}`);
  console.log(`  time ${seconds.toFixed(2)} s, throughput ${Math.round(total / seconds).toLocaleString('en-US')} messages/s`);
}

// Messages the default mapping accepts do the full work (map every field, decide); rejected ones stop early,
// so the accepted-only figure is the honest per-message cost.
const acceptedPool = messages.filter((text) => {
  try {
    hl7ToSnapshot(parseHl7(text), mapping);
    return true;
  } catch {
    return false;
  }
});

console.log('bench/mapping — parse → map → snapshot → decide, one core (Node main thread)');
measure('all public HL7 fixtures', messages);
measure('accepted-only (full work per message)', acceptedPool);
console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
