import type { Knex } from 'knex';
import { jsonColumn, timeColumn } from './columns';

/** Current state of what the feed told us (DESIGN §2): patients, their contact rows, appointments. */
export const snapshotMigration = {
  name: '002_snapshot',
  async up(db: Knex): Promise<void> {
    await db.schema.createTable('patients', (t) => {
      t.text('id').primary();
      jsonColumn(db, t, 'data').notNullable();
      t.text('source_version').notNullable();
      t.text('merged_into');
      timeColumn(t, 'updated_at').notNullable();
      t.bigInteger('last_inbox_id');
      t.index(['merged_into'], 'patients_merged_into_index');
    });
    // One row per patient↔person link, in the order the feed listed them (row_no). The primary key's prefix
    // serves lookups by patient_id.
    await db.schema.createTable('contacts', (t) => {
      t.text('patient_id').notNullable();
      t.integer('row_no').notNullable();
      t.text('contact_id');
      t.text('email_key');
      t.text('name_key').notNullable();
      t.text('origin').notNullable();
      t.text('row_key');
      jsonColumn(db, t, 'data').notNullable();
      t.text('source_version').notNullable();
      t.primary(['patient_id', 'row_no']);
      t.index(['contact_id'], 'contacts_contact_id_index');
      t.index(['email_key'], 'contacts_email_key_index');
      t.index(['email_key', 'name_key'], 'contacts_email_key_name_key_index');
    });
    await db.schema.createTable('appointments', (t) => {
      t.text('id').primary();
      t.text('patient_id').notNullable();
      jsonColumn(db, t, 'data').notNullable();
      t.text('source_version').notNullable();
      timeColumn(t, 'updated_at').notNullable();
      t.bigInteger('last_inbox_id');
      t.index(['patient_id'], 'appointments_patient_id_index');
    });
  },
  async down(db: Knex): Promise<void> {
    await db.schema.dropTable('appointments');
    await db.schema.dropTable('contacts');
    await db.schema.dropTable('patients');
  },
};
