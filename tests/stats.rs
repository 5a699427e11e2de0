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
