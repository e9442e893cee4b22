import type { Knex } from 'knex';

/**
 * The inbox is written on every message before its ACK: each index costs every connector's commit. The
 * (status, processed_at) index served only the daily retention prune, which the (status, id) index serves well
 * enough once a day; dropping it makes each commit cheaper (issue #4, bench/mllp).
 */
export const inboxLeanIndexesMigration = {
  name: '009_inbox_lean_indexes',
  async up(db: Knex): Promise<void> {
    await db.schema.alterTable('inbox', (t) => {
      t.dropIndex(['status', 'processed_at'], 'inbox_status_processed_at_index');
    });
  },
  async down(db: Knex): Promise<void> {
    await db.schema.alterTable('inbox', (t) => {
      t.index(['status', 'processed_at'], 'inbox_status_processed_at_index');
    });
  },
};
