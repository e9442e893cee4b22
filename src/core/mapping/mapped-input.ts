import type { SnapshotOp } from '../model';

/**
 * What a translator (connectors/*\/to-snapshot.ts) makes of one accepted message or resource.
 * A rejected input is a thrown BridgeError (ERR_MAPPING_* / ERR_HL7_* / ERR_FHIR_*) with a one-line reason.
 */
export interface MappedInput {
  /** MSH-10 for HL7; `ResourceType/id` for FHIR. */
  readonly controlId?: string;
  /** `ADT^A04` for HL7; the resource type for FHIR. */
  readonly event?: string;
  /** What the input changes, in order. Empty for an accepted input the mapping ignores (A03, unknown types). */
  readonly ops: readonly SnapshotOp[];
  /** Values dropped or defaulted (bad phone, unmapped code…), in words without patient data. */
  readonly warnings: readonly string[];
}
