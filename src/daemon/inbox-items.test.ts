import { inboxItemsFromText } from './inbox-items';

const msg = (id: string, type = 'ADT^A04^ADT_A01') => [`MSH|^~\\&|EHR|CLINIC|PORTAL|CLINIC|20260110090000||${type}|${id}|P|2.5.1`, 'PID|1||P1^^^CLINIC^MR||Kid^Mia||20190601|F'].join('\r');

test('HL7: one item per message of a file (CRLF, BOM, batch envelope), keyed by MSH-10', () => {
  const text = `\uFEFFFHS|^~\\&\r\nBHS|^~\\&\r\n${msg('M1').replace(/\r/g, '\r\n')}\r\n${msg('M2').replace(/\r/g, '\r\n')}\r\nBTS|2\r\nFTS|1\r\n`;
  const items = inboxItemsFromText(text, 'cli');
  expect(items.map((i) => [i.source, i.format, i.dedupeKey, i.controlId])).toEqual([
    ['cli', 'hl7v2', 'M1', 'M1'],
    ['cli', 'hl7v2', 'M2', 'M2'],
  ]);
  expect(items[0]!.raw).toBe(msg('M1'));
});

test('HL7 without MSH-10, or that cannot be parsed: keyed by a hash of the text, stored for the ingest worker to reject', () => {
  const noId = msg('');
  const broken = 'PID|1||P1^^^CLINIC^MR';
  const items = inboxItemsFromText(`${noId}\r${broken}`, 'cli');
  expect(items).toHaveLength(1);
  expect(items[0]!.dedupeKey).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(items[0]!.controlId).toBeUndefined();
  const garbage = inboxItemsFromText('hello world', 'cli');
  expect(garbage).toHaveLength(1);
  expect(garbage[0]!.dedupeKey).toMatch(/^sha256:/);
  // Same text, same key: a second store of it is a duplicate.
  expect(inboxItemsFromText('hello world', 'cli')[0]!.dedupeKey).toBe(garbage[0]!.dedupeKey);
});

test('FHIR JSON: one item for the file, keyed by a hash; empty text gives nothing', () => {
  const bundle = JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [] });
  const [item, ...rest] = inboxItemsFromText(bundle, 'fhir-poll');
  expect(rest).toEqual([]);
  expect(item).toMatchObject({ source: 'fhir-poll', format: 'fhir', raw: bundle, dedupeKey: expect.stringMatching(/^sha256:/) });
  expect(inboxItemsFromText('', 'cli')).toEqual([]);
  expect(inboxItemsFromText('\r\n\r\n', 'cli')).toEqual([]);
});
