//! The pump holds back the wakes of tasks it moves to a background worker
//! until it returns; a worker task spawned by a task's own code must still
//! wake a sleeping worker at once, or code that waits for it inside the pump
//! (a `with_world` closure blocking on a channel) would wait, for the rescue
//! thread at best. Alone in its binary: no other test's threads may keep the
//! worker off the CPU (which would let the rescue thread run the task).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bevy_coro::prelude::*;
use common::*;

#[test]
fn a_with_world_closure_can_wait_for_a_worker_task_it_spawned() {
    let mut app = app(1);
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
                // Woken at once, the worker ran it; a held wake would have
                // left it to the rescue thread, tens of ms later.
                assert!(
                    ran_on
                        .as_deref()
                        .is_some_and(|name| name.starts_with("bevy_coro worker")),
                    "round {round} ran on {ran_on:?}"
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
}
