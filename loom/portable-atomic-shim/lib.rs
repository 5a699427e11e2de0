//! loom's atomics under the names async-task imports from `portable_atomic`.
pub use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
