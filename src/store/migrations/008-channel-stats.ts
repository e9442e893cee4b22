import type { Knex } from 'knex';
import { timeColumn } from './columns';

/**
 * Per-channel counters for `portal-bridge status` (issue #4): every input a connector received on a channel,
 * how many were stored to be processed, stored as rejected, or were retransmissions of something already stored,
 * and when the last one arrived. Written in the same transaction as the inbox rows they count.
 */
export const channelStatsMigration = {
  name: '008_channel_stats',
  async up(db: Knex): Promise<void> {
    await db.schema.createTable('channel_stats', (t) => {
      t.text('source').primary();
      t.bigInteger('received').notNullable().defaultTo(0);
      t.bigInteger('accepted').notNullable().defaultTo(0);
      t.bigInteger('rejected').notNullable().defaultTo(0);
      t.bigInteger('duplicate').notNullable().defaultTo(0);
      timeColumn(t, 'last_message_at').notNullable();
    });
  },
  async down(db: Knex): Promise<void> {
    await db.schema.dropTable('channel_stats');
  },
};
