/**
 * The sandbox portal's own SQLite database (better-sqlite3, synchronous). A file is opened in WAL mode;
 * `:memory:` (the default) lives as long as the server. The schema is created on open.
 */
import Database from 'better-sqlite3';

/** An open sandbox database handle. */
export type SandboxDb = Database.Database;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS accounts (
  id TEXT PRIMARY KEY,
  external_id TEXT NOT NULL UNIQUE,
  email TEXT NOT NULL,
  email_key TEXT NOT NULL UNIQUE,
  given_name TEXT NOT NULL,
  family_name TEXT NOT NULL,
  cell_phone TEXT,
  status TEXT NOT NULL,
  created_by TEXT NOT NULL,
  version INTEGER NOT NULL,
  activated_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS links (
  account_id TEXT NOT NULL REFERENCES accounts(id),
  patient_id TEXT NOT NULL,
  access_level TEXT NOT NULL,
  status TEXT NOT NULL,
  given_name TEXT NOT NULL,
  family_name TEXT NOT NULL,
  birth_date TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (account_id, patient_id)
);
CREATE TABLE IF NOT EXISTS changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id TEXT NOT NULL,
  external_id TEXT NOT NULL,
  status TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  invitation_id TEXT NOT NULL UNIQUE,
  account_id TEXT NOT NULL,
  external_id TEXT NOT NULL,
  email TEXT NOT NULL,
  trigger TEXT NOT NULL,
  channel TEXT NOT NULL,
  method TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
  key TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  state TEXT NOT NULL,
  status INTEGER,
  headers TEXT,
  body TEXT,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`;

/** Opens (and creates) the sandbox database. In-flight idempotency claims of a previous run are dropped. */
export function openSandboxDb(file = ':memory:'): SandboxDb {
  const db = new Database(file);
  if (file !== ':memory:' && file !== '') db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.exec(SCHEMA);
  // A claim left by a process that died mid-request would answer 409 in_flight forever.
  db.prepare("DELETE FROM idempotency WHERE state = 'in_flight'").run();
  return db;
}
