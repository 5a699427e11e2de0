//! A model test of the core `Runtime`, without Bevy: random sequences of
//! spawns (main or worker, with hops, yields and sleeps), cancels, delayed
//! and interval timers, clock moves and pumps, checked against a simple
//! model of what must have run, what must not have, and what must have been
//! dropped. Deterministic mode with a manual clock, so the model knows exactly
//! which pump runs what; the seed of the scheduler's order is drawn too.

mod harness;
mod models;
mod settle;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bevy_coro::prelude::*;

use bevy_coro::runtime::{Clock, ManualClock, Mode, Runtime, RuntimeConfig};
use bevy_coro::sleep_until;
use proptest::collection::vec;
use proptest::prelude::*;

use harness::Harness;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Main,
    Worker,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    /// A step run inside `.on::<side>()`.
    Hop(Side),
    Yield,
    /// `sleep_until(spawn time + ms)`: an absolute deadline the model knows.
    SleepUntil(u64),
}

#[derive(Debug, Clone)]
enum Op {
    Spawn {
        side: Side,
        steps: Vec<Step>,
    },
    /// Cancels task `task % tasks`, by `cancel()` or by dropping its handle.
    Cancel {
        task: usize,
        drop_handle: bool,
    },
    Delayed {
        side: Side,
        delay: u64,
    },
    Interval {
        side: Side,
        period: u64,
        first_after_period: bool,
    },
    /// Cancels timer `timer % timers`.
    CancelTimer(usize),
    /// Moves the clock by this many ms.
    Advance(u64),
    Pump,
    /// Pumps until everything that can run has, without moving the clock,
    /// then checks that it did.
    Settle,
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Main), Just(Side::Worker)]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        side().prop_map(Step::Hop),
        Just(Step::Yield),
        (0u64..300).prop_map(Step::SleepUntil),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (side(), vec(step(), 0..6)).prop_map(|(side, steps)| Op::Spawn { side, steps }),
        2 => (any::<usize>(), any::<bool>())
            .prop_map(|(task, drop_handle)| Op::Cancel { task, drop_handle }),
        1 => (side(), 0u64..300).prop_map(|(side, delay)| Op::Delayed { side, delay }),
        1 => (side(), 1u64..80, any::<bool>()).prop_map(|(side, period, first_after_period)| {
            Op::Interval { side, period, first_after_period }
        }),
        1 => any::<usize>().prop_map(Op::CancelTimer),
        3 => (0u64..120).prop_map(Op::Advance),
        3 => Just(Op::Pump),
        1 => Just(Op::Settle),
    ]
}

/// Bumps its counter when dropped.
struct DropGuard(Arc<AtomicUsize>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        // No regression files written into the tree; a failure prints its
        // shrunk ops, to be pasted into a test.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_deterministic_runtime_agrees_with_the_model(
        seed in any::<u64>(),
        ops in vec(op(), 1..60),
    ) {
        let mut harness = Harness::new(Some(seed));
        for op in ops {
            harness.apply(op);
        }
        harness.finish();
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        // Each case starts and joins two worker threads.
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_threaded_runtime_loses_no_task_and_drops_each_future_once(
        ops in vec(op(), 1..60),
    ) {
        let mut harness = Harness::new(None);
        for op in ops {
            harness.apply(op);
        }
        harness.finish();
    }
}
