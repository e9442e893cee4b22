import { parsePhoneNumberFromString, isSupportedCountry, type CountryCode } from 'libphonenumber-js/max';

/**
 * A phone number as written in a feed → E.164 (`+12025550123`), using the full metadata so that impossible
 * numbers (e.g. 555-1234 exchanges) are refused. `defaultRegion` applies to numbers without a country code.
 * Returns undefined when the text is not a valid number. Pure.
 */
export function toE164(text: string | undefined, defaultRegion: string): string | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  const region = isRegion(defaultRegion) ? defaultRegion : undefined;
  const parsed = parsePhoneNumberFromString(trimmed, region);
  return parsed !== undefined && parsed.isValid() ? parsed.number : undefined;
}

/** True when `code` is an ISO 3166 alpha-2 region libphonenumber knows (e.g. `US`, `GB`). */
export function isRegion(code: string): code is CountryCode {
  return isSupportedCountry(code);
}
