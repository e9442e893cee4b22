import { z } from 'zod';
import { AUTHORITIES } from '../model';
import { ADOLESCENT_POLICIES, CONTACT_UPDATE_MODES, DEFAULT_POLICY, RESEND_TRIGGERS } from '../policy';
import { APPOINTMENT_FIELDS, CONTACT_FIELDS, FIELD_EXTRACTORS, HL7_ACTIONS, MERGE_FIELDS, PATIENT_FIELDS } from './types';

/**
 * The zod schema of a mapping file as written (docs/mapping-format.md). load.ts turns a parsed file into the
 * `Mapping` of types.ts and adds the checks zod cannot express (paths parse, code maps exist and fit the field).
 */

const pathList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

export const FieldSpecSchema = z.union([
  z.string().min(1),
  z.array(z.string().min(1)).min(1),
  z.strictObject({
    path: pathList,
    map: z.string().min(1).optional(),
    default: z.union([z.string(), z.boolean()]).optional(),
    as: z.enum(FIELD_EXTRACTORS).optional(),
  }),
]);
export type FieldSpecInput = z.infer<typeof FieldSpecSchema>;

/** An object whose keys are exactly the canonical field names of `fields` (unknown keys are errors). */
function fieldRecord<T extends Record<string, string>>(fields: T) {
  const shape = Object.fromEntries(Object.keys(fields).map((k) => [k, FieldSpecSchema.optional()])) as {
    [K in keyof T]: z.ZodOptional<typeof FieldSpecSchema>;
  };
  return z.strictObject(shape);
}

const ContactSourceSchema = z.strictObject({
  from: z.string().min(1),
  join: z.array(z.strictObject({ segment: z.string().regex(/^[A-Z][A-Z0-9]{2}$/, 'a segment name such as ZNK'), on: z.number().int().min(1) })).default([]),
  fields: fieldRecord(CONTACT_FIELDS),
});

const EventRuleSchema = z.union([
  z.enum(HL7_ACTIONS),
  z.strictObject({ action: z.enum(HL7_ACTIONS), appointmentStatus: z.string().min(1).optional() }),
]);

const CodeMapSchema = z.strictObject({
  caseSensitive: z.boolean().default(false),
  default: z.union([z.string(), z.boolean()]).optional(),
  values: z.record(z.string(), z.union([z.string(), z.boolean()])),
});

const isTimeZone = (tz: string): boolean => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

const d = DEFAULT_POLICY;
export const PolicySchema = z.strictObject({
  eligibleAuthorities: z.array(z.enum(AUTHORITIES)).min(1).default([...d.eligibleAuthorities]),
  passwordless: z.boolean().default(d.passwordless),
  minorAgeLimit: z.number().int().min(1).max(30).default(d.minorAgeLimit),
  adolescent: z
    .strictObject({
      enabled: z.boolean().default(d.adolescent.enabled),
      fromAge: z.number().int().min(1).max(29).default(d.adolescent.fromAge),
      policy: z.enum(ADOLESCENT_POLICIES).default(d.adolescent.policy),
    })
    .default({ ...d.adolescent }),
  resendOn: z.array(z.enum(RESEND_TRIGGERS)).default([...d.resendOn]),
  timeZone: z.string().refine(isTimeZone, 'not an IANA time zone (e.g. America/New_York)').default(d.timeZone),
  contactsUpdate: z.enum(CONTACT_UPDATE_MODES).default(d.contactsUpdate),
  defaultRegion: z.string().regex(/^[A-Z]{2}$/, 'a two-letter region such as US').default(d.defaultRegion),
});

export const MappingFileSchema = z.strictObject({
  format: z.enum(['hl7v2', 'fhir']),
  name: z.string().min(1),
  description: z.string().optional(),
  events: z.record(z.string().regex(/^[A-Z0-9]{3}\^[A-Z0-9]{2,3}$/, 'a message type such as ADT^A04'), EventRuleSchema).default({}),
  unknownEvents: z.enum(['reject', 'ignore']).default('reject'),
  patient: fieldRecord(PATIENT_FIELDS).refine((p) => p.id !== undefined, { message: 'patient.id is required: where the patient\'s EHR id lives' }),
  contacts: z.array(ContactSourceSchema).default([]),
  merge: fieldRecord(MERGE_FIELDS).default({}),
  appointment: fieldRecord(APPOINTMENT_FIELDS).default({}),
  codeMaps: z.record(z.string().min(1), CodeMapSchema).default({}),
  policy: PolicySchema.default(PolicySchema.parse({})),
});
export type MappingFile = z.infer<typeof MappingFileSchema>;
