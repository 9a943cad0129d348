//! Filled in by the fault-server work (issue 3).
