// A node:test reporter that counts leaf tests and emits the totals as one JSON
// document when the run ends. Suites are not counted, except a skipped suite:
// its tests never run (so never report), and it counts as one skip, so a
// describe-level skip cannot pass unseen under CI=true.
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
    if (event.data.details?.type === "suite") {
      if (event.data.skip !== undefined) totals.skipped++;
      continue;
    }
    if (event.data.skip !== undefined || event.data.todo !== undefined) totals.skipped++;
    else if (event.type === "test:pass") totals.passed++;
    else totals.failed++;
  }
  yield JSON.stringify(totals);
}
