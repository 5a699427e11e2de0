//! The bodies of delayed and interval tasks. Runs happen inside the task, one
//! at a time: a tick that comes while a run is still going never starts a
//! second run (the single-execution guarantee); the grid `start + k·period`
//! decides when the next one is due.
//!
//! A contained panic's payload is dropped inside a guard: a payload whose
//! own `Drop` panics still ends only that run.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::Sleep;
use super::every::MissedTick;
use crate::runtime::Shared;
use crate::runtime::cancel::TokenState;
use crate::runtime::task::{catch_poll, drop_payload, panic_message};

/// An interval's schedule: tick `k` is due at `origin + k·period`.
pub(super) struct Grid {
    pub(super) origin: u64,
    pub(super) period: u64,
    /// The index of the next tick to run.
    pub(super) next: u64,
}

impl Grid {
    /// When tick `k` is due; `None` if that is past the end of time.
    fn due(&self, k: u64) -> Option<u64> {
        k.checked_mul(self.period)?.checked_add(self.origin)
    }

    /// After a run that ended at `end`, picks the next tick by `policy` and
    /// returns how many ticks are skipped.
    fn after_run(&mut self, end: u64, policy: MissedTick) -> u64 {
        self.next += 1;
        if self.due(self.next).is_none_or(|due| due >= end) {
            return 0; // on time
        }
        // The first tick at or after `end`; those before it were covered.
        let reached = (end - self.origin).div_ceil(self.period);
        let covered = reached - self.next;
        match policy {
            MissedTick::Skip => {
                self.next = reached;
                covered
            }
            MissedTick::Burst => 0,
            MissedTick::Delay => {
                self.origin = end;
                self.next = 0;
                covered - 1
            }
        }
    }
}

pub(super) async fn interval<F, Fut>(
    shared: Arc<Shared>,
    state: Arc<TokenState>,
    mut grid: Grid,
    policy: MissedTick,
    mut factory: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    while let Some(due) = grid.due(grid.next) {
        if state
            .until_cancelled(Sleep::at(shared.clone(), due))
            .await
            .is_none()
        {
            break;
        }
        run_once(&shared, &state, &mut factory).await;
        if state.is_cancelled() {
            break;
        }
        let skipped = grid.after_run(shared.timers.now(), policy);
        state.skip(skipped);
        shared.counters.skipped(skipped);
    }
    // Past the end of time: wait for the cancel that will come at shutdown.
    if !state.is_cancelled() {
        state.until_cancelled(std::future::pending::<()>()).await;
    }
    state.finish();
}

pub(super) async fn delayed<F, Fut>(
    shared: Arc<Shared>,
    state: Arc<TokenState>,
    due: Option<u64>,
    factory: F,
) where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let waited = match due {
        Some(due) => state.until_cancelled(Sleep::at(shared.clone(), due)).await,
        // `Duration::MAX` or past the end of time: never due.
        None => state.until_cancelled(std::future::pending::<()>()).await,
    };
    if waited.is_some() {
        let mut factory = Some(factory);
        run_once(&shared, &state, &mut || {
            (factory.take().expect("a delayed task runs once"))()
        })
        .await;
    }
    state.finish();
}

/// One run: counts it, and contains a panic in the factory or the run to it
/// (counted on the token and in the scheduler's totals).
async fn run_once<F, Fut>(shared: &Shared, state: &TokenState, factory: &mut F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    state.run_started();
    let result = match catch_unwind(AssertUnwindSafe(&mut *factory)) {
        // Boxed so the finished run can be dropped inside the catch: a
        // panicking `Drop` of the run ends that run, not the interval.
        Ok(run) => CatchPanic(Some(Box::pin(run))).await,
        Err(payload) => Err(panic_message(payload)),
    };
    if let Err(message) = result {
        #[cfg(feature = "trace")]
        tracing::error!(target: "bevy_coro", panic = %message, "timer run panicked");
        shared.counters.panic();
        state.panicked(message);
    }
}

/// Awaits a run, turning a panic in its poll, or in its `Drop` once it is
/// done, into its message.
struct CatchPanic<F>(Option<Pin<Box<F>>>);

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let run = self
            .0
            .as_mut()
            .expect("`CatchPanic` polled after it finished");
        let result = std::task::ready!(catch_poll(run.as_mut(), cx));
        let run = self.0.take();
        let dropped = catch_unwind(AssertUnwindSafe(|| drop(run)));
        Poll::Ready(match (result, dropped) {
            (Ok(output), Ok(())) => Ok(output),
            (Ok(_), Err(payload)) => Err(panic_message(payload)),
            (Err(message), dropped) => {
                if let Err(payload) = dropped {
                    drop_payload(payload);
                }
                Err(message)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(period: u64) -> Grid {
        Grid {
            origin: 0,
            period,
            next: 0,
        }
    }

    #[test]
    fn an_on_time_run_keeps_the_grid() {
        let mut g = grid(10);
        assert_eq!(g.after_run(3, MissedTick::Skip), 0);
        assert_eq!(g.due(g.next), Some(10));
        assert_eq!(
            g.after_run(10, MissedTick::Skip),
            0,
            "ending exactly on a tick is on time"
        );
        assert_eq!(g.due(g.next), Some(20));
    }

    #[test]
    fn policies_after_a_run_of_two_and_a_half_periods() {
        let mut skip = grid(10);
        assert_eq!(skip.after_run(25, MissedTick::Skip), 2);
        assert_eq!(skip.due(skip.next), Some(30));

        let mut burst = grid(10);
        assert_eq!(burst.after_run(25, MissedTick::Burst), 0);
        assert_eq!(burst.due(burst.next), Some(10)); // due already: runs at once
        assert_eq!(burst.after_run(26, MissedTick::Burst), 0);
        assert_eq!(burst.due(burst.next), Some(20));

        let mut delay = grid(10);
        assert_eq!(delay.after_run(25, MissedTick::Delay), 1);
        assert_eq!(delay.due(delay.next), Some(25));
        assert_eq!(delay.after_run(26, MissedTick::Delay), 0);
        assert_eq!(delay.due(delay.next), Some(35));
    }
}
