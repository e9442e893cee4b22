import type { Knex } from 'knex';
import { jsonColumn, timeColumn } from './columns';

/** What we know we did on the portal: accounts, links, welcomes, and every side effect's intent and result. */
export const ledgerMigration = {
  name: '004_ledger',
  async up(db: Knex): Promise<void> {
    await db.schema.createTable('accounts', (t) => {
      t.text('guardian_key').primary();
      t.text('portal_id').unique({ indexName: 'accounts_portal_id_unique' });
      t.text('email').notNullable();
      t.text('status').notNullable();
      t.text('created_by').notNullable();
      jsonColumn(db, t, 'name');
      t.text('cell_phone');
      t.text('version');
      timeColumn(t, 'updated_at').notNullable();
      t.index(['status'], 'accounts_status_index');
    });
    await db.schema.createTable('links', (t) => {
      t.text('guardian_key').notNullable();
      t.text('patient_id').notNullable();
      t.text('access_level').notNullable();
      t.text('status').notNullable();
      timeColumn(t, 'updated_at').notNullable();
      t.primary(['guardian_key', 'patient_id']);
      t.index(['patient_id'], 'links_patient_id_index');
    });
    // UNIQUE(guardian_key, trigger): one welcome per trigger, whatever the idempotency key.
    await db.schema.createTable('invitations', (t) => {
      t.text('idempotency_key').primary();
      t.text('guardian_key').notNullable();
      t.text('trigger').notNullable();
      t.text('status').notNullable();
      t.text('portal_invitation_id');
      timeColumn(t, 'created_at').notNullable();
      timeColumn(t, 'sent_at');
      t.unique(['guardian_key', 'trigger'], { indexName: 'invitations_guardian_key_trigger_unique' });
    });
    await db.schema.createTable('side_effects', (t) => {
      t.text('idempotency_key').primary();
      t.text('guardian_key').notNullable();
      t.text('op').notNullable();
      t.text('target').notNullable();
      t.text('status').notNullable();
      t.integer('portal_status');
      t.text('error_code');
      timeColumn(t, 'created_at').notNullable();
      timeColumn(t, 'finished_at');
      t.index(['guardian_key', 'status'], 'side_effects_guardian_key_status_index');
      t.index(['status'], 'side_effects_status_index');
    });
  },
  async down(db: Knex): Promise<void> {
    await db.schema.dropTable('side_effects');
    await db.schema.dropTable('invitations');
    await db.schema.dropTable('links');
    await db.schema.dropTable('accounts');
  },
};
