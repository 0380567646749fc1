// Time as the API shows it: RFC 3339 in UTC with second precision (metav1.Time).
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

export function timestamp(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}
