//! Counts, not times: many tasks hopping, none lost.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bevy_coro::prelude::*;
use common::*;

#[test]
fn a_hundred_thousand_tasks_hop_ten_times_each() {
    const TASKS: usize = 100_000;
    const HOPS: usize = 10;
    let mut app = app(4);
    let coro = coro(&app);
    let hops = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    for i in 0..TASKS {
        let (hops, done) = (hops.clone(), done.clone());
        let task = async move {
            for _ in 0..HOPS {
                async { hops.fetch_add(1, Ordering::Relaxed) }
                    .on::<Worker>()
                    .await;
            }
            done.fetch_add(1, Ordering::SeqCst);
        };
        // Half start on the main thread, half on a worker.
        if i % 2 == 0 {
            coro.spawn::<Main>(task).detach();
        } else {
            coro.spawn::<Worker>(async move { task.on::<Main>().await })
                .detach();
        }
    }
    update_until(&mut app, "all hopping tasks", |_| {
        done.load(Ordering::SeqCst) == TASKS
    });
    assert_eq!(hops.load(Ordering::Relaxed), TASKS * HOPS);
    wait_until("in_flight back to zero", || coro.in_flight() == 0);
}

#[test]
fn worker_tasks_spawned_from_workers_all_complete() {
    const PARENTS: usize = 1_000;
    const CHILDREN: usize = 100;
    let mut app = app(4);
    let coro = coro(&app);
    let done = Arc::new(AtomicUsize::new(0));
    for _ in 0..PARENTS {
        let (spawner, done) = (coro.clone(), done.clone());
        coro.spawn::<Worker>(async move {
            let children: Vec<_> = (0..CHILDREN)
                .map(|_| {
                    let done = done.clone();
                    spawner.spawn::<Worker>(async move {
                        yield_now().await;
                        done.fetch_add(1, Ordering::Relaxed);
                    })
                })
                .collect();
            for child in children {
                child.await.unwrap();
            }
        })
        .detach();
    }
    update_until(&mut app, "all children", |_| {
        done.load(Ordering::Relaxed) == PARENTS * CHILDREN
    });
    wait_until("in_flight back to zero", || coro.in_flight() == 0);
}
