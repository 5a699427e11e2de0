//! What the scheduler can tell about itself: the deterministic mode (a
//! replayable order, deadlock reports), the wait graph behind those reports
//! and the stuck-task list, the reports themselves, tracing spans, the counters of `stats()`,
//! the thread's CPU clock the pump reads, and the live task list
//! (`track_tasks`) with its snapshots and leak reports.

pub(crate) mod cpu_clock;
pub(crate) mod deterministic;
pub(crate) mod report;
pub(crate) mod snapshot;
pub(crate) mod stats;
pub(crate) mod task_list;
#[cfg(feature = "trace")]
pub(crate) mod trace;
pub(crate) mod wait_graph;
