import type { Knex } from 'knex';

/**
 * The patient's own email-key, so a guardian's neighbourhood finds a patient who is (or will be, at the age limit)
 * their own account holder (R14) and whose email is on the patient record, not on a contact row.
 */
export const patientEmailMigration = {
  name: '006_patient_email_key',
  async up(db: Knex): Promise<void> {
    await db.schema.alterTable('patients', (t) => {
      t.text('email_key');
      t.index(['email_key'], 'patients_email_key_index');
    });
  },
  async down(db: Knex): Promise<void> {
    await db.schema.alterTable('patients', (t) => {
      t.dropIndex(['email_key'], 'patients_email_key_index');
      t.dropColumn('email_key');
    });
  },
};
