//! Filled in by the test-server harness work.
