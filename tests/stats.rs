//! `CoroStats` agrees with what the test did.

mod common;

use std::time::Duration;

use bevy_app::App;
use bevy_coro::prelude::*;
use bevy_coro::{CoroClock, CoroStats};
use bevy_time::{TimePlugin, TimeUpdateStrategy};
use common::*;

#[test]
fn stats_count_polls_timers_panics_and_queues() {
    let mut app = App::new();
    app.add_plugins(TimePlugin)
        .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(
            10,
        )))
        .add_plugins(CoroPlugin {
            workers: 1,
            clock: CoroClock::Virtual,
            ..Default::default()
        });
    app.update();
    let coro = coro(&app);

    // 25 main tasks: all polled in the next pump.
    for _ in 0..25 {
        coro.spawn::<Main>(async {}).detach();
    }
    app.update();
    let stats = app.world().resource::<CoroStats>().clone();
    assert_eq!(stats.main_polled, 25);
    assert_eq!(stats.frames, 2);
    assert_eq!(stats.main_queue, 0);

    // 5 delayed tasks on game time: their 5 timers fire in one later pump.
    let tokens: Vec<_> = (0..5)
        .map(|_| coro.delayed(Duration::from_millis(25), || async {}))
        .collect();
    let mut fired = 0;
    for _ in 0..10 {
        app.update();
        fired += app.world().resource::<CoroStats>().timers_fired;
    }
    assert_eq!(fired, 5);
    assert!(tokens.iter().all(|token| token.runs_started() == 1));

    // Two panics: one task, one timer run.
    let bad = coro.spawn::<Main>(async { panic!("task boom") });
    let _bad_timer = coro.delayed(Duration::ZERO, || async { panic!("timer boom") });
    update_until(&mut app, "panics counted", |app| {
        app.world().resource::<CoroStats>().panics == 2
    });
    drop(bad);

    // A parked task is in flight; the pump reported it.
    let parked = coro.spawn::<Worker>(std::future::pending::<()>());
    wait_until("parked", || coro.stats().worker_queue == 0);
    app.update();
    let stats = app.world().resource::<CoroStats>().clone();
    assert_eq!(stats.in_flight, coro.in_flight());
    assert!(stats.in_flight >= 1);
    drop(parked);
}

#[test]
fn worker_counters_agree_with_the_work() {
    use bevy_coro::runtime::{Runtime, RuntimeConfig};
    let runtime = Runtime::new(RuntimeConfig {
        workers: 2,
        ..Default::default()
    })
    .unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // From outside the workers: every task goes through the injector.
    for _ in 0..1_000 {
        let done = done.clone();
        runtime
            .spawn::<Worker>(async move {
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            })
            .detach();
    }
    wait_until("all ran", || {
        done.load(std::sync::atomic::Ordering::SeqCst) == 1_000
    });
    let outside = runtime.stats().workers;
    assert_eq!(outside.injector_pushes, 1_000);
    assert_eq!(outside.local_pushes, 0);
    assert!(outside.polls >= 1_000);
    // A yielding worker task goes back to its own worker's queue.
    let task = runtime.spawn::<Worker>(async {
        for _ in 0..10 {
            yield_now().await;
        }
    });
    wait_until("yielder done", || task.is_finished());
    let after = runtime.stats().workers;
    assert_eq!(after.injector_pushes, 1_001);
    assert_eq!(after.local_pushes, 10);
}

#[test]
fn stats_tell_the_pump_cpu_time_its_longest_poll_and_its_longest_pump() {
    const WORK: Duration = Duration::from_millis(3);
    let mut app = App::new();
    app.add_plugins(CoroPlugin {
        workers: 1,
        main_budget: Some(Duration::from_millis(1)),
        ..Default::default()
    });
    app.update();
    let coro = coro(&app);
    // An empty pump reads no CPU clock and times no poll.
    let stats = app.world().resource::<CoroStats>().clone();
    assert_eq!((stats.pump_cpu_time, stats.longest_poll), (None, None));
    assert_eq!(stats.pump_off_cpu(), None);

    // One task holds the main thread for WORK: the longest poll is at least
    // that long (busy-waited wall time: a lower bound, not a timing).
    coro.spawn::<Main>(async { busy(WORK) }).detach();
    app.update();
    let stats = app.world().resource::<CoroStats>().clone();
    assert_eq!(stats.main_polled, 1);
    let poll = stats.longest_poll.expect("a budget times polls");
    assert!(poll >= WORK, "{poll:?}");
    assert!(stats.pump_time >= poll);
    if cfg!(unix) {
        let cpu = stats.pump_cpu_time.expect("unix has a thread CPU clock");
        assert!(cpu > Duration::ZERO);
        assert_eq!(
            stats.pump_off_cpu(),
            Some(stats.pump_time.saturating_sub(cpu))
        );
    } else {
        assert_eq!(stats.pump_cpu_time, None);
    }
    // That pump is the longest so far, and stays it through empty frames.
    let longest = stats.longest_pump;
    assert_eq!(longest.frame, stats.frames);
    assert_eq!(longest.time, stats.pump_time);
    assert_eq!(longest.cpu_time, stats.pump_cpu_time);
    assert_eq!(longest.longest_poll, Some(poll));
    app.update();
    let stats = app.world().resource::<CoroStats>().clone();
    assert_eq!(stats.longest_pump, longest);
    assert_eq!(stats.longest_poll, None);

    // Written back to its default, it starts over.
    app.world_mut().resource_mut::<CoroStats>().longest_pump = Default::default();
    app.update();
    let stats = app.world().resource::<CoroStats>().clone();
    assert_eq!(stats.longest_pump.frame, stats.frames);
    assert_eq!(stats.longest_pump.time, stats.pump_time);

    // Without a budget, polls are not timed.
    app.world_mut()
        .resource_mut::<bevy_coro::CoroScheduler>()
        .main_budget = None;
    coro.spawn::<Main>(async {}).detach();
    app.update();
    let stats = app.world().resource::<CoroStats>().clone();
    assert_eq!((stats.main_polled, stats.longest_poll), (1, None));
    assert_eq!(stats.pump_cpu_time.is_some(), cfg!(unix));
}

/// A worker task spawning more children than its worker's own queue holds
/// (256), each child yielding: the full queue sends half of itself to the
/// injector (counted, with one worker: nobody else takes from its queue),
/// and every child runs every step exactly once (none lost or run twice on
/// the way through the injector, a steal by the second worker, or back to a
/// worker's queue).
#[test]
fn a_full_worker_queue_spills_to_the_injector_and_every_task_runs_once() {
    use bevy_coro::runtime::{Runtime, RuntimeConfig};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    const CHILDREN: usize = 1_000;
    const STEPS: usize = 20;
    for workers in [1, 2] {
        let runtime = Runtime::new(RuntimeConfig {
            workers,
            ..Default::default()
        })
        .unwrap();
        let steps: Arc<Vec<AtomicUsize>> =
            Arc::new((0..CHILDREN).map(|_| AtomicUsize::new(0)).collect());
        let parent = {
            let (spawner, steps) = (runtime.handle().clone(), steps.clone());
            runtime.spawn::<Worker>(async move {
                let children: Vec<_> = (0..CHILDREN)
                    .map(|child| {
                        let steps = steps.clone();
                        spawner.spawn::<Worker>(async move {
                            for _ in 0..STEPS {
                                steps[child].fetch_add(1, Ordering::SeqCst);
                                yield_now().await;
                            }
                        })
                    })
                    .collect();
                for child in children {
                    child.await.unwrap();
                }
            })
        };
        wait_until("every child done", || parent.is_finished());
        for (child, count) in steps.iter().enumerate() {
            assert_eq!(
                count.load(Ordering::SeqCst),
                STEPS,
                "{workers} workers, child {child}"
            );
        }
        let stats = runtime.stats().workers;
        if workers == 1 {
            // The parent from outside, then at least one spill of half a
            // full queue.
            assert!(stats.injector_pushes > 128, "{stats:?}");
        }
        assert!(stats.polls >= (CHILDREN * (STEPS + 1)) as u64, "{stats:?}");
    }
}
