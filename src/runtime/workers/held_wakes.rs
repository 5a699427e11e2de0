//! Worker wakes held back while the pump runs.
//!
//! A main-thread task whose poll ends by moving it to a worker (the hop back
//! after `with_world`, `.on::<Worker>()`) would wake a sleeping worker from
//! inside the frame: a system call on the main thread, and a worker that may
//! take the main thread's core for the rest of its time slice. The pump
//! holds those wakes and gives them when it returns, all at once; a worker
//! still awake takes the work from its queue meanwhile, since only the wake
//! is held, not the push. A pump that runs longer than [`HOLD_AT_MOST`] gives
//! the wakes held so far after the task it is running, so workers do not
//! idle long while work waits.
//!
//! A wake with no sleeping worker to reach (every worker awake: a busy
//! pool, hops under load) is not held at all: it would do nothing when
//! given (see `park`), and holding one costs a clock read.
//!
//! Wakes are held at every worker priority, but only those the pump asks
//! for between polls: a push made by a task's own code (a spawn, a channel
//! send that wakes a worker task) wakes at once. So code that waits for a
//! worker inside the pump (a `with_world` closure blocking on a channel, an
//! anti-pattern) does not wait for a wake that comes after it, but for one
//! exception: a worker task the pump moved or woke *earlier in the same
//! pump*. Then the workers' rescue thread, seeing work waiting that no
//! worker takes, wakes them (or, for background workers on Linux, runs the
//! task itself) within tens of milliseconds: a late frame, not a hang.
//!
//! Held wakes belong to the thread that held them and to one runtime: only
//! the pump's thread holds any, the pump's end gives them (see
//! `Shared::pump`), and a wake for another runtime's workers is never held.

use std::cell::Cell;
use std::ptr;
use std::time::Duration;

use crate::runtime::{Instant, Shared};

/// The longest a wake is held.
pub(crate) const HOLD_AT_MOST: Duration = Duration::from_millis(1);

/// Wakes held on a thread: how many, since when, for which runtime.
#[derive(Clone, Copy)]
struct Held {
    wakes: usize,
    since: Instant,
    shared: *const Shared,
}

thread_local! {
    static HELD: Cell<Option<Held>> = const { Cell::new(None) };
}

/// Holds `wakes` more wakes of `shared`'s workers. Returns how many to give
/// now: 0, unless the oldest held one has waited [`HOLD_AT_MOST`] (then all
/// of them), or wakes of another runtime are held here (then `wakes`).
pub(crate) fn hold(shared: &Shared, wakes: usize) -> usize {
    let now = Instant::now();
    match HELD.get() {
        None => {
            HELD.set(Some(Held {
                wakes,
                since: now,
                shared,
            }));
            0
        }
        Some(held) if !ptr::eq(held.shared, shared) => wakes,
        Some(held) if now - held.since >= HOLD_AT_MOST => {
            HELD.set(None);
            held.wakes.saturating_add(wakes)
        }
        Some(held) => {
            HELD.set(Some(Held {
                wakes: held.wakes.saturating_add(wakes),
                ..held
            }));
            0
        }
    }
}

/// The wakes of `shared`'s workers held on this thread for [`HOLD_AT_MOST`]
/// or longer, taken to give now (0 if none is that old). The pump asks after
/// each task it runs.
pub(crate) fn overdue(shared: &Shared) -> usize {
    match HELD.get() {
        Some(held) if ptr::eq(held.shared, shared) && held.since.elapsed() >= HOLD_AT_MOST => {
            HELD.set(None);
            held.wakes
        }
        _ => 0,
    }
}

/// Takes the wakes of `shared`'s workers held on this thread, to give them now.
pub(crate) fn release(shared: &Shared) -> usize {
    match HELD.get() {
        Some(held) if ptr::eq(held.shared, shared) => {
            HELD.set(None);
            held.wakes
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{Runtime, RuntimeConfig};

    fn runtime() -> Runtime {
        Runtime::new(RuntimeConfig {
            workers: 1,
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn wakes_are_held_until_released() {
        let runtime = runtime();
        let shared = &runtime.handle().shared;
        assert_eq!(release(shared), 0);
        assert_eq!(hold(shared, 1), 0);
        assert_eq!(hold(shared, 2), 0);
        assert_eq!(release(shared), 3);
        assert_eq!(release(shared), 0);
    }

    #[test]
    fn a_wake_held_too_long_is_given_with_the_next() {
        let runtime = runtime();
        let shared = &runtime.handle().shared;
        assert_eq!(hold(shared, 1), 0);
        std::thread::sleep(HOLD_AT_MOST);
        assert_eq!(hold(shared, 1), 2);
        assert_eq!(release(shared), 0);
    }

    #[test]
    fn only_wakes_held_a_millisecond_are_overdue() {
        let runtime = runtime();
        let shared = &runtime.handle().shared;
        assert_eq!(overdue(shared), 0);
        assert_eq!(hold(shared, 2), 0);
        assert_eq!(overdue(shared), 0);
        std::thread::sleep(HOLD_AT_MOST);
        assert_eq!(overdue(shared), 2);
        assert_eq!(release(shared), 0);
    }

    #[test]
    fn a_pinned_task_wakes_every_worker_once_released() {
        let runtime = runtime();
        let shared = &runtime.handle().shared;
        assert_eq!(hold(shared, usize::MAX), 0);
        assert_eq!(hold(shared, 1), 0);
        assert_eq!(release(shared), usize::MAX);
    }

    #[test]
    fn another_runtimes_wakes_are_never_held_nor_released() {
        let (a, b) = (runtime(), runtime());
        let (a, b) = (&a.handle().shared, &b.handle().shared);
        assert_eq!(hold(a, 1), 0);
        assert_eq!(hold(b, 2), 2);
        assert_eq!(release(b), 0);
        assert_eq!(release(a), 1);
    }
}
