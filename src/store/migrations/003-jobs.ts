import type { Knex } from 'knex';
import { timeColumn } from './columns';

/** The work queue: one row per key holds that key's live state (DESIGN §9). */
export const jobsMigration = {
  name: '003_jobs',
  async up(db: Knex): Promise<void> {
    await db.schema.createTable('jobs', (t) => {
      t.bigIncrements('id').primary();
      t.text('key').notNullable().unique({ indexName: 'jobs_key_unique' });
      t.text('kind').notNullable();
      t.text('status').notNullable();
      t.integer('attempts').notNullable().defaultTo(0);
      timeColumn(t, 'next_attempt_at').notNullable();
      t.text('last_error_code');
      t.text('last_error');
      t.text('locked_by');
      timeColumn(t, 'locked_until');
      t.boolean('dirty').notNullable().defaultTo(false);
      timeColumn(t, 'created_at').notNullable();
      timeColumn(t, 'updated_at').notNullable();
      t.bigInteger('trigger_inbox_id');
      t.index(['status', 'next_attempt_at'], 'jobs_status_next_attempt_at_index');
      t.index(['status', 'locked_until'], 'jobs_status_locked_until_index');
    });
  },
  async down(db: Knex): Promise<void> {
    await db.schema.dropTable('jobs');
  },
};
