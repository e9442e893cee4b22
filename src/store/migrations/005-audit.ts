import type { Knex } from 'knex';
import { jsonColumn, timeColumn } from './columns';

/** The audit trail (ids, rule ids and codes only: never patient data) and the open email conflicts (R12). */
export const auditMigration = {
  name: '005_audit',
  async up(db: Knex): Promise<void> {
    await db.schema.createTable('audit', (t) => {
      t.bigIncrements('id').primary();
      timeColumn(t, 'at').notNullable();
      t.text('actor').notNullable();
      t.text('guardian_key');
      t.text('patient_id');
      t.text('rule');
      t.text('op');
      t.text('idempotency_key');
      t.integer('portal_status');
      t.bigInteger('inbox_id');
      jsonColumn(db, t, 'detail');
      t.index(['guardian_key', 'id'], 'audit_guardian_key_id_index');
      t.index(['patient_id', 'id'], 'audit_patient_id_id_index');
    });
    await db.schema.createTable('conflicts', (t) => {
      t.text('email_key').primary();
      jsonColumn(db, t, 'guardian_keys').notNullable();
      jsonColumn(db, t, 'patient_ids').notNullable();
      timeColumn(t, 'updated_at').notNullable();
    });
  },
  async down(db: Knex): Promise<void> {
    await db.schema.dropTable('conflicts');
    await db.schema.dropTable('audit');
  },
};
