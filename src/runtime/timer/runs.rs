//! The bodies of delayed and interval tasks. Runs happen inside the task, one
//! at a time: a tick that comes while a run is still going never starts a
//! second run (the single-execution guarantee); the grid `start + k·period`
//! decides when the next one is due.
//!
//! Between two runs an interval always gives the scheduler a turn (see
//! [`NextTick`]), and a contained panic's payload is dropped inside a guard:
//! a payload whose own `Drop` panics still ends only that run.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::Sleep;
use super::handle::TimerState;
use crate::runtime::Shared;
use crate::runtime::task::context::{self, with_current_task};
use crate::runtime::task::options::Side;
use crate::runtime::task::{catch_poll, drop_payload, panic_message};
use crate::runtime::yields::{YieldNow, yield_now};

/// What an interval does with the ticks that came while a run was going.
///
/// Timelines for a period `P` where the run started at tick 0 takes `2.5 P`
/// (`#` a run, `|` a tick, `x` a skipped tick):
///
/// ```text
/// ticks:  |0        |1        |2        |3        |4
/// Skip:   #########################     x ########## (1, 2 skipped; next run on tick 3)
/// Burst:  #########################=========####    (1 runs at 2.5 P, 2 right after it)
/// Delay:  #########################     #####        (one run at 2.5 P; the grid moves there)
/// ```
///
/// Whatever the policy, an interval never starts a run without giving the
/// scheduler a turn first, even when the tick is already due: on the main
/// thread the pump can stop at its budget between two runs, and other tasks
/// run in between; on a worker the interval goes to the back of the queue.
/// On the main thread, when a run ends with the next tick already due, that
/// tick runs in this frame if it was due when the frame reached the
/// interval, else in the next frame (runs longer than the period, a period
/// shorter than a run): so an interval cannot hold a frame, with or without
/// a budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum MissedTick {
    /// The ticks a run covered are skipped and counted in
    /// [`TimerHandle::ticks_skipped`](super::TimerHandle::ticks_skipped); the next run is on the next tick of the
    /// grid `start + k·period`. The default: the grid never drifts, and a slow
    /// run does not cause a burst of catch-up runs.
    #[default]
    Skip,
    /// Every tick runs: the ones a run covered run one after another, each
    /// after a turn, until the interval is back on its grid (those due when
    /// the frame reached the interval in that frame, the rest in the next
    /// frames). Runs that always take longer than the period never catch up,
    /// and then, without a `main_budget`, each frame runs more of them: use a
    /// budget, or `Skip`.
    Burst,
    /// One run, after a turn, for the ticks a run covered (the rest are
    /// counted as skipped), and the grid restarts from there:
    /// `end + k·period`.
    Delay,
}

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

/// An interval's body. Every run after the first waits for its tick in
/// [`NextTick`], which always gives the scheduler a turn first, even when the
/// tick is already due (a run longer than the period, a tiny period, a
/// `Burst` catching up): so the pump reaches its budget check between two
/// runs, and other tasks get their go.
pub(super) async fn interval<F, Fut>(
    shared: Arc<Shared>,
    state: Arc<TimerState>,
    mut grid: Grid,
    policy: MissedTick,
    mut factory: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut reached = Reached::default();
    // The first run: the spawn was its turn.
    let mut wait = grid
        .due(grid.next)
        .map(|due| NextTick::new(&shared, due, None));
    while let Some(next_tick) = wait {
        if state.until_cancelled(next_tick).await.is_none() {
            break;
        }
        reached.note(&shared);
        run_once(&shared, &state, &mut factory).await;
        if state.is_cancelled() {
            break;
        }
        reached.note(&shared);
        let skipped = grid.after_run(shared.timers.now(), policy);
        state.skip(skipped);
        shared.counters.skipped(skipped);
        wait = grid
            .due(grid.next)
            .map(|due| NextTick::new(&shared, due, Some(reached)));
    }
    // Past the end of time: wait for the cancel that will come at shutdown.
    if !state.is_cancelled() {
        state.until_cancelled(std::future::pending::<()>()).await;
    }
    state.finish();
}

/// When the frame first reached an interval: the frame's number and the
/// clock then. A tick due by that time runs in that frame, in a turn of its
/// own; one that came due later waits for the next frame. So one frame runs
/// only the ticks that were due when it got to the interval, however long
/// the runs take: a frame always ends.
#[derive(Debug, Clone, Copy, Default)]
struct Reached {
    frame: u64,
    at: u64,
}

impl Reached {
    /// Notes the frame the interval runs in now, if it is a new one.
    fn note(&mut self, shared: &Shared) {
        let frame = shared.main.frame();
        if frame != self.frame {
            *self = Reached {
                frame,
                at: shared.timers.now(),
            };
        }
    }

    /// Whether a tick due at `due` may still run in this frame.
    fn covers(&self, shared: &Shared, due: u64) -> bool {
        self.frame == shared.main.frame() && due <= self.at
    }
}

/// Waits for an interval's next tick. Never ready at its first poll once a
/// run happened (`after: Some`): a tick not yet due waits on the wheel; one
/// already due waits for a turn, at the back of this frame's main queue if
/// this frame reached the interval after the tick was due, else in the next
/// frame (a `yield_now`); on a worker, at the back of its queue.
struct NextTick {
    due: u64,
    sleep: Sleep,
    step: Step,
}

enum Step {
    /// Not polled yet; `Some` after a run, with when its frame reached it.
    Start(Option<Reached>),
    /// Filed on the wheel: its wake is a turn.
    Sleeping,
    /// Queued behind this frame's other tasks: the next poll is its turn.
    Queued,
    /// Waiting for the next frame, or a worker's queue.
    Yielding(YieldNow),
}

impl NextTick {
    fn new(shared: &Arc<Shared>, due: u64, after: Option<Reached>) -> Self {
        NextTick {
            due,
            sleep: Sleep::at(shared.clone(), due),
            step: Step::Start(after),
        }
    }
}

impl Future for NextTick {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        match &mut this.step {
            Step::Start(after) => {
                let after = *after;
                if Pin::new(&mut this.sleep).poll(cx).is_pending() {
                    this.step = Step::Sleeping;
                    return Poll::Pending;
                }
                let Some(reached) = after else {
                    return Poll::Ready(());
                };
                // Due already: a turn first.
                let this_frame = with_current_task(|task| {
                    task.filter(|task| task.affinity() == Side::Main)
                        .is_some_and(|task| reached.covers(&task.shared, this.due))
                });
                if this_frame {
                    context::wait_for_turn();
                    cx.waker().wake_by_ref();
                    this.step = Step::Queued;
                    Poll::Pending
                } else {
                    let mut yielding = yield_now();
                    let poll = Pin::new(&mut yielding).poll(cx);
                    this.step = Step::Yielding(yielding);
                    poll
                }
            }
            Step::Sleeping => Pin::new(&mut this.sleep).poll(cx),
            Step::Queued => Poll::Ready(()),
            Step::Yielding(yielding) => Pin::new(yielding).poll(cx),
        }
    }
}

pub(super) async fn delayed<F, Fut>(
    shared: Arc<Shared>,
    state: Arc<TimerState>,
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
/// (counted on the timer handle and in the scheduler's totals).
async fn run_once<F, Fut>(shared: &Shared, state: &TimerState, factory: &mut F)
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
