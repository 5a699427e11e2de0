//! What the scheduler can tell about itself: the deterministic mode (a
//! replayable order, deadlock reports), the wait graph behind those reports
//! and the stuck-task list, the reports themselves, tracing spans, the counters of `stats()`,
//! and the thread's CPU clock the pump reads.

pub(crate) mod cpu_clock;
pub(crate) mod deterministic;
pub(crate) mod report;
pub(crate) mod stats;
#[cfg(feature = "trace")]
pub(crate) mod trace;
pub(crate) mod wait_graph;
