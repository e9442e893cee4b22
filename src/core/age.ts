/**
 * Ages and calendar dates (DESIGN §4: ages are whole years in the practice's time zone). Pure: "today" is always
 * a parameter.
 */

interface CalendarDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

/**
 * Whole years between `birthDate` and `asOf` (both ISO calendar dates, `YYYY-MM-DD`).
 * A partial `YYYY-MM` birth date counts from the 1st of that month; a bare `YYYY` cannot decide an age →
 * undefined. A Feb-29 birthday falls on Mar 1 in non-leap years. Invalid dates, or a birth date after asOf,
 * → undefined.
 */
export function ageOn(birthDate: string, asOf: string): number | undefined {
  const birth = parseDate(birthDate, true);
  const today = parseDate(asOf, false);
  if (birth === undefined || today === undefined) return undefined;
  const birthday = birth.month === 2 && birth.day === 29 && !isLeapYear(today.year) ? { month: 3, day: 1 } : birth;
  const hadBirthday = today.month > birthday.month || (today.month === birthday.month && today.day >= birthday.day);
  const age = today.year - birth.year - (hadBirthday ? 0 : 1);
  return age < 0 ? undefined : age;
}

/**
 * The calendar date (`YYYY-MM-DD`) that `instantIso` (RFC 3339) falls on in the IANA `timeZone`.
 * The CLI uses it to turn "now" into the asOf date of eligibility. Throws RangeError for an unparseable instant
 * or an unknown zone (a configuration error, not data).
 */
// Building a DateTimeFormat costs ~0.3 ms; ingest and reconcile ask for the date on every run.
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', calendar: 'gregory', numberingSystem: 'latn' });
    formatters.set(timeZone, f);
  }
  return f;
}

export function localDate(instantIso: string, timeZone: string): string {
  const millis = Date.parse(instantIso);
  if (!Number.isFinite(millis)) throw new RangeError(`not an instant: ${instantIso}`);
  const parts = formatterFor(timeZone).formatToParts(millis);
  const part = (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)?.value ?? '';
  return `${part('year').padStart(4, '0')}-${part('month')}-${part('day')}`;
}

/** True for Gregorian leap years. */
export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function parseDate(text: string, allowMonthOnly: boolean): CalendarDate | undefined {
  const match = /^(\d{4})-(\d{2})(?:-(\d{2}))?$/u.exec(text.trim());
  if (match === null) return undefined;
  const [, y, m, d] = match;
  if (d === undefined && !allowMonthOnly) return undefined;
  const year = Number(y);
  const month = Number(m);
  const day = d === undefined ? 1 : Number(d);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  return { year, month, day };
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}
