// Reads vitest's JSON report and prints the one closing line CI recognises; exits 1 unless all passed.
import { readFileSync } from "node:fs";
const file = process.argv[2] ?? "vitest-report.json";
let report;
try {
  report = JSON.parse(readFileSync(file, "utf8"));
} catch (e) {
  console.log(`0 passed, 1 failed, 0 skipped`);
  console.error(`no vitest report at ${file}: ${e.message}`);
  process.exit(1);
}
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
// A test file that failed without a failing test in it (it did not load, its beforeAll threw) counts once;
// numFailedTestSuites would also count the files and describe blocks of failing tests a second time.
const brokenFiles = (report.testResults ?? []).filter((f) => f.status === "failed" && !(f.assertionResults ?? []).some((a) => a.status === "failed")).length;
// An unhandled error outside any test (a stray rejection) fails the run without failing a test: count it.
const outside = !report.success && report.numFailedTests + brokenFiles === 0 ? 1 : 0;
const failed = report.numFailedTests + brokenFiles + outside;
console.log(`${report.numPassedTests} passed, ${failed} failed, ${skipped} skipped`);
process.exit(report.success && report.numTotalTests > 0 ? 0 : 1);
