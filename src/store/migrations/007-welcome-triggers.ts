import type { Knex } from 'knex';
import { timeColumn } from './columns';

/**
 * Pending welcome triggers beyond account creation (DESIGN §5): an authority change while the account is
 * invited (`authority:<inbox id>`), a staff resend (`resend:<request id>`). Reconcile answers them with one
 * welcome and forgets them; the invitations table keeps each answered trigger from ever going twice.
 */
export const welcomeTriggersMigration = {
  name: '007_welcome_triggers',
  async up(db: Knex): Promise<void> {
    await db.schema.createTable('welcome_triggers', (t) => {
      t.text('guardian_key').notNullable();
      t.text('trigger').notNullable();
      timeColumn(t, 'created_at').notNullable();
      t.primary(['guardian_key', 'trigger']);
    });
  },
  async down(db: Knex): Promise<void> {
    await db.schema.dropTable('welcome_triggers');
  },
};
