/**
 * The value of a sample line in a Prometheus exposition, by its exact name
 * and labels as printed (e.g. `telex_replica_members` or
 * `telex_fleet_forward_requests_total{outcome="ok"}`); `absent` when there is none.
 */
export function expositionValue(text: string, series: string, absent = NaN): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? absent : Number(line.slice(series.length + 1));
}
