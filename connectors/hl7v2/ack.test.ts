import { ackCodeFor, buildAck, escapeText, HL7_ERROR, readAckHeader, shouldSendAck } from './ack';

const AT = new Date('2026-11-23T17:34:05.123Z');
const MSG = 'MSH|^~\\&|EHR^1.2.3^ISO|CLINIC|PORTAL|BRIDGE|20261123||ADT^A04^ADT_A01|CTRL-1|P|2.5.1\rPID|1||X^^^H^MR';

describe('HL7 ACKs', () => {
  test('AA: applications and facilities swapped (components kept), MSA-2 = MSH-10, processing id and version echoed', () => {
    const header = readAckHeader(MSG);
    expect(buildAck(header, { code: 'AA', ackControlId: 'A1', at: AT })).toBe(
      'MSH|^~\\&|PORTAL|BRIDGE|EHR^1.2.3^ISO|CLINIC|20261123173405+0000||ACK^A04^ACK|A1|P|2.5.1\rMSA|AA|CTRL-1',
    );
  });

  test('errors carry an ERR segment: v2.5+ ERR-3/4/8, older versions ERR-1; delimiters in the reason are escaped', () => {
    const problem = { code: HL7_ERROR.unsupportedMessageType, text: 'type ORU^R01 | not handled' };
    const v25 = buildAck(readAckHeader(MSG), { code: 'AR', ackControlId: 'A2', at: AT, problem });
    expect(v25.split('\r').slice(1)).toEqual([
      'MSA|AR|CTRL-1|type ORU\\S\\R01 \\F\\ not handled',
      'ERR|||200^Unsupported message type^HL70357|E||||type ORU\\S\\R01 \\F\\ not handled',
    ]);
    const v23 = buildAck(readAckHeader(MSG.replace('|2.5.1', '|2.3')), { code: 'AE', ackControlId: 'A3', at: AT, problem });
    expect(v23.split('\r')[2]).toBe('ERR|^^^200&Unsupported message type&HL70357');
  });

  test("answers in the message's own delimiters", () => {
    const header = readAckHeader('MSH^~|\\&^EHR^CLINIC^^^20261123^^ADT~A01^C9^P^2.4');
    expect(buildAck(header, { code: 'AA', ackControlId: 'A4', at: AT })).toBe('MSH^~|\\&^^^EHR^CLINIC^20261123173405+0000^^ACK~A01~ACK^A4^P^2.4\rMSA^AA^C9');
  });

  test('a message too broken to parse still gets an ACK with whatever MSH-10 can be read', () => {
    expect(buildAck(readAckHeader('garbage'), { code: 'AE', ackControlId: 'A5', at: AT }).split('\r')[1]).toBe('MSA|AE|');
    expect(readAckHeader('\u0000\u0001MSH|^~\\&|A|B|C|D|T||ADT^A04|XYZ|P|2.5').controlId).toBe('XYZ');
  });

  test('enhanced mode when MSH-15/16 ask for it: commit codes, and MSH-15 decides whether anything is sent', () => {
    const enhanced = (msh15: string, msh16 = ''): ReturnType<typeof readAckHeader> => readAckHeader(`${MSG.split('\r')[0]}|||${msh15}|${msh16}`);
    expect(ackCodeFor(readAckHeader(MSG), 'accept')).toBe('AA');
    expect(['accept', 'error', 'reject'].map((o) => ackCodeFor(enhanced('AL'), o as 'accept'))).toEqual(['CA', 'CE', 'CR']);
    expect(ackCodeFor(enhanced('', 'AL'), 'accept')).toBe('CA');
    expect(shouldSendAck(enhanced('NE'), 'CA')).toBe(false);
    expect([shouldSendAck(enhanced('ER'), 'CA'), shouldSendAck(enhanced('ER'), 'CR')]).toEqual([false, true]);
    expect([shouldSendAck(enhanced('SU'), 'CA'), shouldSendAck(enhanced('SU'), 'CE')]).toEqual([true, false]);
    expect(shouldSendAck(readAckHeader(MSG), 'AE')).toBe(true);
  });

  test('escapeText folds line breaks and escapes the escape character first', () => {
    expect(escapeText('a\\b\r\nc~d&e', readAckHeader(MSG).delimiters)).toBe('a\\E\\b c\\R\\d\\T\\e');
  });
});
