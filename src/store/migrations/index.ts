/**
 * The numbered migrations, as code (a knex MigrationSource: no directory scanning, so the same code runs from
 * ts-jest, dist/ and a bundle). Append new ones; never edit one that has shipped.
 */
import type { Knex } from 'knex';
import { inboxMigration } from './001-inbox';
import { snapshotMigration } from './002-snapshot';
import { jobsMigration } from './003-jobs';
import { ledgerMigration } from './004-ledger';
import { auditMigration } from './005-audit';
import { patientEmailMigration } from './006-patient-email';
import { welcomeTriggersMigration } from './007-welcome-triggers';
import { channelStatsMigration } from './008-channel-stats';
import { inboxLeanIndexesMigration } from './009-inbox-lean-indexes';

interface Migration {
  readonly name: string;
  up(db: Knex): Promise<void>;
  down(db: Knex): Promise<void>;
}

const MIGRATIONS: readonly Migration[] = [inboxMigration, snapshotMigration, jobsMigration, ledgerMigration, auditMigration, patientEmailMigration, welcomeTriggersMigration, channelStatsMigration, inboxLeanIndexesMigration];

export const migrationSource: Knex.MigrationSource<Migration> = {
  getMigrations: async () => [...MIGRATIONS],
  getMigrationName: (m) => m.name,
  getMigration: async (m) => m,
};

/** Every table the migrations create (tests empty them between cases). */
export const STORE_TABLES = [
  'inbox', 'cursors', 'patients', 'contacts', 'appointments', 'jobs',
  'accounts', 'links', 'invitations', 'side_effects', 'audit', 'conflicts', 'welcome_triggers', 'channel_stats',
] as const;
