// A node:test reporter that counts leaf tests (suites excluded) and emits the
// totals as one JSON document when the run ends.
export interface TestTotals {
  passed: number;
  failed: number;
  skipped: number;
}

interface TestEvent {
  type: string;
  data: { skip?: unknown; todo?: unknown; details?: { type?: string } };
}

export default async function* summaryReporter(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const totals: TestTotals = { passed: 0, failed: 0, skipped: 0 };
  for await (const event of source) {
    if (event.type !== "test:pass" && event.type !== "test:fail") continue;
    if (event.data.details?.type === "suite") continue;
    if (event.data.skip !== undefined || event.data.todo !== undefined) totals.skipped++;
    else if (event.type === "test:pass") totals.passed++;
    else totals.failed++;
  }
  yield JSON.stringify(totals);
}
