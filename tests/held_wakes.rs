//! The pump holds back the wakes of tasks it moves to a worker until it
//! returns; a worker task spawned by a task's own code must still wake a
//! sleeping worker at once, or code that waits for it inside the pump (a
//! `with_world` closure blocking on a channel) would wait, for the rescue
//! thread at best. Alone in its binary: no other test's threads may keep the
//! worker off the CPU (which would let the rescue thread run the task).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bevy_app::App;
use bevy_coro::WorkerPriority;
use bevy_coro::prelude::*;
use common::*;

/// An App with one worker at `worker_priority`.
fn app_at(worker_priority: WorkerPriority) -> App {
    let mut app = App::new();
    app.add_plugins(CoroPlugin {
        workers: 1,
        worker_priority,
        ..Default::default()
    });
    app
}

#[test]
fn a_with_world_closure_can_wait_for_a_worker_task_it_spawned() {
    for priority in [WorkerPriority::Background, WorkerPriority::Normal] {
        a_closure_waits_for_a_worker_task_it_spawned(priority);
    }
}

fn a_closure_waits_for_a_worker_task_it_spawned(priority: WorkerPriority) {
    let mut app = app_at(priority);
    let coro = coro(&app);
    let got = Arc::new(AtomicUsize::new(0));
    for round in 0..20 {
        // Let the worker finish its spin and fall asleep.
        std::thread::sleep(Duration::from_millis(2));
        let (coro_inside, got) = (coro.clone(), got.clone());
        coro.spawn::<Main>(async move {
            with_world(move |_world| {
                let (send, receive) = std::sync::mpsc::channel();
                coro_inside
                    .spawn::<Worker>(async move {
                        let name = std::thread::current().name().map(str::to_owned);
                        send.send((round, name)).unwrap();
                    })
                    .detach();
                let (answer, ran_on) = receive
                    .recv_timeout(Duration::from_secs(10))
                    .expect("the worker task never ran");
                // Woken at once, the worker ran it. A held wake would have
                // left it to the rescue thread, tens of ms later: it would
                // have run it (background) or woken the worker (normal,
                // counted below). Under load the rescue thread may also run
                // a starved background worker's task: only the normal
                // priority's run tells the two apart.
                let rescued = priority == WorkerPriority::Background
                    && ran_on.as_deref() == Some("bevy_coro rescue");
                assert!(
                    rescued
                        || ran_on
                            .as_deref()
                            .is_some_and(|name| name.starts_with("bevy_coro worker")),
                    "{priority:?}: round {round} ran on {ran_on:?}"
                );
                got.fetch_add(answer + 1, Ordering::SeqCst);
            })
            .await;
        })
        .detach();
        app.update();
    }
    assert_eq!(got.load(Ordering::SeqCst), (1..=20).sum::<usize>());
    assert_eq!(coro.stats().panics, 0);
    if priority == WorkerPriority::Normal {
        // A held wake costs a rescue wake every round (20: checked by holding
        // these wakes on purpose). On a loaded machine a worker woken at once
        // may still wait for a CPU through the rescue thread's two looks, a
        // round now and then: that is not a held wake.
        let rescue_wakes = coro.stats().workers.rescue_wakes;
        assert!(
            rescue_wakes <= 5,
            "a wake was held: {rescue_wakes} rescue wakes in 20 rounds"
        );
    }
}

/// The anti-pattern the held wakes make worse: a closure that blocks on a
/// worker task the same pump moved back to the workers earlier (its wake
/// held until the pump returns, which it cannot do). At every priority the
/// rescue thread sees work nobody takes and wakes the workers: a late frame,
/// not a hang.
#[test]
fn a_closure_blocked_on_a_task_the_pump_moved_is_rescued_at_every_priority() {
    for priority in [WorkerPriority::Normal, WorkerPriority::Background] {
        let mut app = app_at(priority);
        let coro = coro(&app);
        let mut rescue_wakes = 0;
        // Until the rescue thread steps in: under load a worker still on
        // its last look for work may take the task itself, a round at a
        // time (the counts below say which). A worker asleep is reached
        // only by the rescue thread: its wake (`rescue_wakes`, at every
        // priority) or its run of the task (`rescued`, background on Linux).
        for round in 0..50 {
            let (send, receive) = std::sync::mpsc::channel::<u32>();
            let parks = coro.stats().workers.parks;
            // Visits the main thread, then goes back to the worker to send:
            // the pump moves it and holds the wake.
            let moved = coro.spawn::<Worker>(async move {
                with_world(|_world| ()).await;
                send.send(round).unwrap();
            });
            wait_until("the worker task waits for the main thread", || {
                coro.stats().main_queue == 1
            });
            // Queued after it, so it runs later in the same pump.
            let blocked =
                coro.spawn::<Main>(async move { receive.recv_timeout(Duration::from_secs(60)) });
            // The worker has looked for work a last time and sleeps (under
            // load it may not have had a core since the hop: a nap would
            // not do).
            wait_until("the worker parks", || coro.stats().workers.parks > parks);
            app.update();
            assert_eq!(
                run_task(&mut app, blocked).unwrap(),
                Ok(round),
                "{priority:?}: round {round}: the closure waited in vain"
            );
            run_task(&mut app, moved).unwrap();
            rescue_wakes = coro.stats().workers.rescue_wakes;
            if rescue_wakes + coro.stats().workers.rescued > 0 {
                break;
            }
        }
        // Background workers on Linux may have been run by the rescue thread
        // (`rescued`); elsewhere it can only wake them.
        let stats = coro.stats().workers;
        assert!(
            rescue_wakes + stats.rescued > 0,
            "{priority:?}: the worker took the task by itself in 50 rounds: {stats:?}"
        );
    }
}
