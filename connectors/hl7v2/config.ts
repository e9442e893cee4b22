/**
 * Config of the HL7 v2 connectors (config file `connectors:` entries; README in this folder). Strict: a misspelt
 * option is a problem with its file, line and column, reported with every other problem before anything starts.
 */
import { z } from 'zod';

const processingIds = z
  .array(z.string().regex(/^[A-Za-z]$/, 'one letter: P (production), T (training) or D (debugging)').transform((s) => s.toUpperCase()))
  .min(1)
  .optional();

/** A connector's name: the channel its input is stored under (inbox source, retransmission dedupe, status). */
export const channelName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a connector name is letters, digits, ".", "_" or "-", at most 64 characters (it names the channel in the inbox)');

const encoding = z.enum(['utf-8', 'latin1']).default('utf-8');

const tls = z.strictObject({
  /** PEM files; relative paths are relative to the working directory. */
  certFile: z.string().min(1),
  keyFile: z.string().min(1),
  /** Clients must present a certificate signed by this CA (mutual TLS). */
  clientCaFile: z.string().min(1).optional(),
});

export const mllpConnectorSchema = z.strictObject({
  kind: z.literal('hl7v2-mllp'),
  name: channelName,
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(1).max(65_535).default(2575),
  maxMessageBytes: z.number().int().min(1024).max(256 * 1024 * 1024).default(4 * 1024 * 1024),
  idleTimeoutMs: z.number().int().min(0).default(600_000),
  maxConnections: z.number().int().min(1).max(10_000).default(200),
  processingIds,
  encoding,
  tls: tls.optional(),
});

export const fileDropConnectorSchema = z.strictObject({
  kind: z.literal('hl7v2-file'),
  name: channelName,
  dir: z.string().min(1),
  processedDir: z.string().min(1).optional(),
  errorDir: z.string().min(1).optional(),
  /** File name endings taken (case-insensitive); [] takes every file. */
  extensions: z.array(z.string().min(1)).default(['.hl7', '.txt', '.dat', '.msg']),
  pollMs: z.number().int().min(100).default(2000),
  settleMs: z.number().int().min(0).default(1000),
  processingIds,
  encoding,
});

export type MllpConnectorConfig = z.output<typeof mllpConnectorSchema>;
export type FileDropConnectorConfig = z.output<typeof fileDropConnectorSchema>;
