/** RFC 3339 in UTC without fractional seconds: what Swift's default ISO 8601 decoder accepts. */
export function formatInstant(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function formatInstantOrNull(date: Date | null | undefined): string | null {
  return date ? formatInstant(date) : null;
}
