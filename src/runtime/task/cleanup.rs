//! Cleanups: closures a task leaves to run on the main thread if it is
//! cancelled (the Bevy layer's `on_cancel` gives them the World).
//!
//! A task files its cleanups in its tree [`Node`](crate::runtime::tree::Node)
//! (made for the first one: a task that files none pays nothing). When its
//! future ends:
//!
//! - returned or panicked: the task's body drops them unrun, in its last poll
//!   (`Header::finish`);
//! - dropped unfinished (cancelled: its handle dropped or `cancel()`ed, an
//!   ancestor cancelled, its entity despawned): the body's `Drop` queues them
//!   on the runtime, and the pump runs them on the main thread, at its start
//!   (those queued since the last pump) and at its end (those of the tasks it
//!   dropped meanwhile), whatever its budget;
//! - dropped by the runtime's shutdown: dropped unrun (there is no frame left
//!   to run them in, nor, in Bevy, a World).
//!
//! One task's cleanups run last registered first, as drops do. A panic in
//! one is counted with the task panics and stops nothing else.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::header::Header;
use super::{context, drop_payload, panic_message};
use crate::runtime::Shared;
use crate::runtime::diag::stats::Counters;

/// One cleanup closure. Dropping it unrun never unwinds: it may be dropped
/// where a panic would abort (a task's last reference, the runtime's).
pub(crate) struct Cleanup(Option<Box<dyn FnOnce() + Send>>);

impl Cleanup {
    pub(crate) fn new(f: Box<dyn FnOnce() + Send>) -> Self {
        Cleanup(Some(f))
    }

    /// Runs the closure; `Err` with the panic message if it panicked.
    fn run(mut self) -> Result<(), String> {
        let f = self.0.take().expect("a cleanup runs once");
        catch_unwind(AssertUnwindSafe(f)).map_err(panic_message)
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        // Unrun: its captures' drops may panic; contained here.
        if let Some(f) = self.0.take()
            && let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(f)))
        {
            drop_payload(payload);
        }
    }
}

/// The cleanups of one cancelled task, queued for the pump.
pub(crate) struct Cancelled {
    /// In registration order (run backwards).
    cleanups: Vec<Cleanup>,
    /// The task's name, for the trace of a cleanup that panics.
    #[cfg(feature = "trace")]
    task: String,
}

/// Files `f` to run if the task polled on this thread is cancelled. `false`
/// outside a task (nothing is filed; `f` is dropped).
pub(crate) fn on_cancel(f: Box<dyn FnOnce() + Send>) -> bool {
    context::with_current_task(|task| match task {
        Some(task) => {
            task.node().add_cleanup(Cleanup::new(f));
            true
        }
        None => false,
    })
}

/// The task's future was dropped unfinished: queue its cleanups for the
/// pump, or drop them at shutdown. Called by the task body's `Drop`.
#[inline]
pub(crate) fn future_dropped(header: &Header) {
    if let Some(cleanups) = header.take_cleanups() {
        queue(header, cleanups);
    }
}

#[cold]
fn queue(header: &Header, cleanups: Vec<Cleanup>) {
    if header.shared.is_closed() {
        return; // Dropped here, unrun.
    }
    let cancelled = Cancelled {
        cleanups,
        #[cfg(feature = "trace")]
        task: header.name().to_string(),
    };
    // Refused only once shutdown has begun: dropped, unrun.
    let _ = header.shared.cleanups.push(cancelled);
}

impl Shared {
    /// Runs the cleanups queued so far (not those they queue); on the main
    /// thread, in the pump. Returns whether there were any.
    pub(crate) fn run_cleanups(&self) -> bool {
        let queued = self.cleanups.len();
        for _ in 0..queued {
            let Ok(cancelled) = self.cleanups.pop() else {
                break;
            };
            cancelled.run(&self.counters);
        }
        queued > 0
    }
}

impl Cancelled {
    fn run(self, counters: &Counters) {
        for cleanup in self.cleanups.into_iter().rev() {
            if let Err(_message) = cleanup.run() {
                counters.panic();
                #[cfg(feature = "trace")]
                tracing::error!(target: "bevy_coro", task = %self.task, panic = %_message, "task cleanup panicked");
            }
        }
    }
}
