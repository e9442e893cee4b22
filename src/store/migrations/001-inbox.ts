import type { Knex } from 'knex';
import { jsonColumn, timeColumn } from './columns';

/** The inbox (raw input, committed before the ACK) and connector cursors. */
export const inboxMigration = {
  name: '001_inbox',
  async up(db: Knex): Promise<void> {
    await db.schema.createTable('inbox', (t) => {
      t.bigIncrements('id').primary();
      t.text('source').notNullable();
      t.text('dedupe_key').notNullable();
      t.text('format').notNullable();
      t.text('control_id');
      t.text('raw').notNullable();
      timeColumn(t, 'received_at').notNullable();
      t.text('status').notNullable();
      t.text('error_code');
      t.text('error');
      jsonColumn(db, t, 'warnings');
      timeColumn(t, 'processed_at');
      t.text('ack');
      t.unique(['source', 'dedupe_key'], { indexName: 'inbox_source_dedupe_key_unique' });
      t.index(['status', 'id'], 'inbox_status_id_index');
      t.index(['status', 'processed_at'], 'inbox_status_processed_at_index');
    });
    await db.schema.createTable('cursors', (t) => {
      t.text('name').primary();
      t.text('value').notNullable();
      timeColumn(t, 'updated_at').notNullable();
    });
  },
  async down(db: Knex): Promise<void> {
    await db.schema.dropTable('cursors');
    await db.schema.dropTable('inbox');
  },
};
