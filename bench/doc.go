// Package bench holds keysweep's performance work (issue 4): the throttling
// proxy that gives the local emulator IAM's rate limit (throttleproxy), the
// reference workload and its seeding (workload), the harness behind
// `make bench` (cmd/keysweep-bench), the naive baseline (cmd/naive-sweep),
// the Cloud Custodian policy it is compared with (c7n/policy.yml), and a
// test that runs in CI: a throttled sweep cut short by its deadline is
// continued by the next run, with every stale key acted on exactly once.
//
// docs/PERFORMANCE.md has the figures and how to reproduce them.
package bench
