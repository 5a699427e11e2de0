//! Loom models of bevy_coro's concurrency protocols, next to the code they
//! check: each modelled file of `src/runtime/` holds its models in a
//! `#[cfg(all(test, loom))]` module, and this crate compiles those files as
//! they are, with loom's atomics in place of std's (the `runtime` module
//! below gives them what they name as `crate::runtime::..`: `sync` stands
//! for `src/runtime/sync.rs`) and loom-aware builds of concurrent-queue and
//! event-listener.
//!
//! ```sh
//! cd loom && RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release
//! ```
//!
//! What is modelled:
//! - `workers/park`: a push while a worker goes to sleep is never missed; a stop
//!   reaches a worker going to sleep; with two workers and one notification
//!   per task, every task is taken (the "pass the word on" rule).
//! - `workers/local_queue`: a worker's own queue, pushed to by its worker
//!   only and popped from by any thread, gives every item exactly once while
//!   the owner pushes, pops and wraps around and one or two others steal.
//! - `task/cancel_handshake`: a cancel racing a task's first park always reaches the
//!   task (it is woken, or polls itself again); a second cancel wakes no one;
//!   a cancel racing the task's first child (which makes its tree node) and
//!   first park reaches both the task and the child (cascaded, or refused by
//!   a cancelled node); a node made by another thread (a cancel handle)
//!   racing the first park gets the task's slot, so it can wake the task;
//!   and the three at once. Without any one of the three fences, they fail.
//! - `graveyard`: a spawn, or a foreign wake, racing shutdown drops its task
//!   exactly once and leaves nothing behind, also when a dropped task wakes
//!   another.
//! - `workers/frame_hold`: a wake held while the game's frame ends (and an
//!   overdue frame's held wakes are taken) is given exactly once.
//! - `actor/addresses`: an actor's count of addresses, with a weak address
//!   upgrading while the last address is dropped (and clones and drops
//!   beside it): the actor is stopped exactly once, and no upgrade after
//!   the last drop gets an address.
//! - `tasks`: the task allocation's state machine (`task/raw`): a wake
//!   racing a running poll, a cancel racing a hop and completion, an
//!   interval tick racing a run, a handle dropped racing a wake and the
//!   run, a handle awaited racing completion; with every access to the
//!   awaiter's waker and to the future or output checked for races (loom's
//!   `UnsafeCell`, which `sync::UnsafeCell` stands for).
#![cfg(loom)]
#![allow(dead_code)]

/// What the modelled files name as `crate::runtime::..`.
mod runtime {
    /// Loom's atomics under the names `src/runtime/sync.rs` gives std's.
    pub(crate) mod sync {
        pub(crate) use loom::cell::UnsafeCell;
        pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering, fence};

        /// No spinning before parking under loom (see `src/runtime/sync.rs`).
        pub(crate) const SPIN_BEFORE_PARK: std::time::Duration = std::time::Duration::ZERO;
    }

    #[cfg(test)]
    pub(crate) use crate::queue;
}

#[path = "../src/runtime/queue.rs"]
mod queue;

#[path = "../src/runtime/workers/park.rs"]
mod park;

#[path = "../src/runtime/workers/local_queue.rs"]
mod local_queue;

#[path = "../src/runtime/task/cancel_handshake.rs"]
mod cancel_handshake;

#[path = "../src/runtime/task/raw/mod.rs"]
mod raw;

#[path = "../src/runtime/graveyard.rs"]
mod graveyard;

#[path = "../src/runtime/workers/frame_hold.rs"]
mod frame_hold;

#[path = "../src/runtime/actor/addresses.rs"]
mod addresses;

/// `loom::model`, printing how many interleavings it explored.
#[cfg(test)]
fn model(name: &str, body: impl Fn() + Send + Sync + 'static) {
    explore(name, loom::model::Builder::new(), body);
}

/// `model` with at most `bound` preemptions (or `LOOM_MAX_PREEMPTIONS`, if
/// lower): for the models that run the task state machine, whose state
/// space grows fastest.
#[cfg(test)]
fn model_bounded(bound: usize, name: &str, body: impl Fn() + Send + Sync + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(builder.preemption_bound.map_or(bound, |b| b.min(bound)));
    explore(name, builder, body);
}

#[cfg(test)]
fn explore(name: &str, builder: loom::model::Builder, body: impl Fn() + Send + Sync + 'static) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    builder.check(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        body();
    });
    println!(
        "loom: {name}: {} interleavings",
        runs.load(Ordering::Relaxed)
    );
}

#[cfg(test)]
mod task_pool;

#[cfg(test)]
mod tasks;
