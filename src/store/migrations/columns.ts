/** Column helpers shared by the migrations, so both engines get the same shapes (see ../column-values.ts). */
import type { Knex } from 'knex';
import { dialectOf } from '../db';

/** A JSON column: jsonb on PostgreSQL, text on SQLite (a declared type `json` would get NUMERIC affinity). */
export function jsonColumn(db: Knex, t: Knex.CreateTableBuilder, name: string): Knex.ColumnBuilder {
  return dialectOf(db) === 'postgres' ? t.jsonb(name) : t.text(name);
}

/** A time column: RFC 3339 UTC text, fixed width (see toDbTime). */
export function timeColumn(t: Knex.CreateTableBuilder, name: string): Knex.ColumnBuilder {
  return t.text(name);
}
