// The Retry-After response header (RFC 9110 §10.2.3): either a number of
// seconds or an HTTP-date, in any of the three date formats recipients must
// accept (IMF-fixdate, and the obsolete RFC 850 and asctime forms).

/** Longest wait a Retry-After header can impose; longer values are capped. */
export const MAX_RETRY_AFTER_MS = 5 * 60 * 1000;

const DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const LONG_DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

const DELAY_SECONDS = /^\d+$/;
// Sun, 06 Nov 1994 08:49:37 GMT
const IMF_FIXDATE = /^([A-Za-z]{3}), (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
// Sunday, 06-Nov-94 08:49:37 GMT
const RFC850_DATE = /^([A-Za-z]+), (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
// Sun Nov  6 08:49:37 1994
const ASCTIME_DATE = /^([A-Za-z]{3}) ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/**
 * Milliseconds to wait as a Retry-After value asks, capped at
 * MAX_RETRY_AFTER_MS; 0 for a date in the past; undefined when the header
 * is absent or invalid.
 */
export function parseRetryAfter(header: string | undefined, nowMs: number): number | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (DELAY_SECONDS.test(value)) return Math.min(Number(value) * 1000, MAX_RETRY_AFTER_MS);
  const dateMs = parseHttpDate(value, nowMs);
  if (dateMs === undefined) return undefined;
  return Math.min(Math.max(dateMs - nowMs, 0), MAX_RETRY_AFTER_MS);
}

/** An HTTP-date as epoch milliseconds, or undefined. nowMs resolves RFC 850's two-digit years. */
export function parseHttpDate(value: string, nowMs: number): number | undefined {
  let match = IMF_FIXDATE.exec(value);
  if (match) {
    const [, day, date, month, year, hour, minute, second] = match;
    if (!DAY_NAMES.includes(day ?? "")) return undefined;
    return utc(Number(year), month, Number(date), hour, minute, second);
  }
  match = RFC850_DATE.exec(value);
  if (match) {
    const [, day, date, month, shortYear, hour, minute, second] = match;
    if (!LONG_DAY_NAMES.includes(day ?? "")) return undefined;
    return utc(fullYear(Number(shortYear), nowMs), month, Number(date), hour, minute, second);
  }
  match = ASCTIME_DATE.exec(value);
  if (match) {
    const [, day, month, date, hour, minute, second, year] = match;
    if (!DAY_NAMES.includes(day ?? "")) return undefined;
    return utc(Number(year), month, Number(date?.trim()), hour, minute, second);
  }
  return undefined;
}

/** RFC 9110: a two-digit year more than 50 years ahead is the latest past year with those digits. */
function fullYear(twoDigits: number, nowMs: number): number {
  const currentYear = new Date(nowMs).getUTCFullYear();
  let year = currentYear - (currentYear % 100) + twoDigits;
  if (year > currentYear + 50) year -= 100;
  return year;
}

function utc(
  year: number,
  monthName: string | undefined,
  date: number,
  hourText: string | undefined,
  minuteText: string | undefined,
  secondText: string | undefined,
): number | undefined {
  const month = MONTHS.indexOf(monthName ?? "");
  const hour = Number(hourText);
  const minute = Number(minuteText);
  const second = Number(secondText);
  if (month < 0 || hour > 23 || minute > 59 || second > 60) return undefined;
  // setUTCFullYear, unlike Date.UTC, does not read years 0–99 as 1900–1999.
  const check = new Date(0);
  check.setUTCFullYear(year, month, date);
  // A leap second (:60) counts as the next second, added after the check below.
  check.setUTCHours(hour, minute, Math.min(second, 59));
  // Rejects dates such as 31 Feb, which Date rolls over into March.
  if (check.getUTCDate() !== date || check.getUTCMonth() !== month) return undefined;
  return second === 60 ? check.getTime() + 1000 : check.getTime();
}
