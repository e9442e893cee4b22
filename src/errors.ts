/**
 * Typed errors (STYLE rule 4). Every code lives in ERROR_CATALOG with its class; only the retry policy reads the
 * class. README's error table is kept in step with this catalog by a test.
 */
export const ERROR_CLASSES = ['transient', 'ambiguous', 'permanent'] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

export const ERROR_CATALOG = {
  ERR_MAPPING_INVALID_FILE: { class: 'permanent', meaning: 'A mapping file is not valid YAML or breaks the mapping schema.' },
  ERR_MAPPING_INVALID_PATH: { class: 'permanent', meaning: 'An HL7 path or FHIRPath expression in a mapping cannot be parsed.' },
  ERR_MAPPING_UNSUPPORTED_EVENT: { class: 'permanent', meaning: 'The message type is not one the mapping accepts.' },
  ERR_MAPPING_MISSING_FIELD: { class: 'permanent', meaning: 'A required field (such as the patient id) is empty in the message.' },
  ERR_HL7_UNPARSEABLE: { class: 'permanent', meaning: 'The input is not an HL7 v2 message (no MSH, broken delimiters, unreadable structure).' },
  ERR_FHIR_UNPARSEABLE: { class: 'permanent', meaning: 'The input is not FHIR R4 JSON (bad JSON, no resourceType, unsupported resource).' },
  ERR_INPUT_UNREADABLE: { class: 'permanent', meaning: 'An input file cannot be read or its format is not recognised.' },
} as const satisfies Record<string, { class: ErrorClass; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** An error with a catalog code. `message` is one line, safe to show staff (no patient data). */
export class BridgeError extends Error {
  override readonly name = 'BridgeError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The retry class of this error's code. */
  get errorClass(): ErrorClass {
    return ERROR_CATALOG[this.code].class;
  }
}

/** True for a BridgeError (also across module copies, by shape). */
export function isBridgeError(e: unknown): e is BridgeError {
  return e instanceof BridgeError;
}
