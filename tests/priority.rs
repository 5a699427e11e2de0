//! Priorities and core masks.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bevy_app::App;
use bevy_coro::prelude::*;
use bevy_coro::runtime::{Handle, Runtime, RuntimeConfig};
use common::*;

#[test]
fn high_tasks_run_first_on_the_main_thread() {
    let mut app = app(1);
    let coro = coro(&app);
    let order = Arc::new(Mutex::new(Vec::new()));
    for i in 0..20 {
        let order = order.clone();
        coro.spawn::<Main>(async move { order.lock().unwrap().push(('N', i)) })
            .detach();
    }
    for i in 0..20 {
        let order = order.clone();
        coro.task("urgent")
            .priority(Priority::High)
            .spawn::<Main>(async move { order.lock().unwrap().push(('H', i)) })
            .detach();
    }
    app.update();
    let order = order.lock().unwrap();
    assert_eq!(order.len(), 40);
    let kinds: String = order.iter().map(|(kind, _)| *kind).collect();
    // Eight High, one waiting Normal, eight High, one Normal, the last four High.
    assert_eq!(&kinds[..22], "HHHHHHHHNHHHHHHHHNHHHH");
    assert!(kinds[22..].chars().all(|kind| kind == 'N'));
}

#[test]
fn normal_worker_tasks_finish_under_a_constant_stream_of_high_ones() {
    let runtime = Runtime::new(RuntimeConfig {
        workers: 1,
        ..Default::default()
    })
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let high_runs = Arc::new(AtomicUsize::new(0));
    /// A High task that, until stopped, spawns its successor before ending.
    fn flood(coro: Handle, stop: Arc<AtomicBool>, runs: Arc<AtomicUsize>) {
        let next = coro.clone();
        coro.task("flood")
            .priority(Priority::High)
            .spawn::<Worker>(async move {
                runs.fetch_add(1, Ordering::Relaxed);
                if !stop.load(Ordering::Relaxed) {
                    flood(next, stop, runs);
                }
            })
            .detach();
    }
    for _ in 0..4 {
        flood((*runtime).clone(), stop.clone(), high_runs.clone());
    }
    let done = Arc::new(AtomicUsize::new(0));
    for _ in 0..100 {
        let done = done.clone();
        runtime
            .spawn::<Worker>(async move {
                done.fetch_add(1, Ordering::SeqCst);
            })
            .detach();
    }
    wait_until("normal tasks under a flood", || {
        done.load(Ordering::SeqCst) == 100
    });
    // The flood was still going all along.
    assert!(high_runs.load(Ordering::Relaxed) >= 100);
    stop.store(true, Ordering::Relaxed);
}

#[test]
fn priority_is_kept_through_hops() {
    let mut app = app(1);
    let coro = coro(&app);
    let order = Arc::new(Mutex::new(Vec::new()));
    // All come back from a worker to the main queue; High ones run first there.
    for i in 0..10 {
        let order = order.clone();
        let builder = coro.task("hopper");
        let builder = if i % 2 == 0 {
            builder.priority(Priority::High)
        } else {
            builder
        };
        builder
            .spawn::<Worker>(async move {
                async move { order.lock().unwrap().push(i % 2 == 0) }
                    .on::<Main>()
                    .await;
            })
            .detach();
    }
    wait_until("all queued for main", || coro.main_queue_len() == 10);
    app.update();
    let order = order.lock().unwrap();
    assert_eq!(
        *order,
        [
            true, true, true, true, true, false, false, false, false, false
        ]
    );
}

fn worker_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_masked_task_runs_only_on_the_worker_pinned_to_its_core() {
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    if cores.len() < 2 {
        println!("skipped: this machine shows fewer than 2 cores");
        return;
    }
    let mut app = App::new();
    app.add_plugins(CoroPlugin {
        workers: 2,
        pin_workers: true,
        ..Default::default()
    });
    let coro = coro(&app);
    // Worker i is pinned to core (i + 1) % cores: worker 0 to core 1.
    let (core_of_worker_0, core_of_worker_1) = (cores[1].id, cores[2 % cores.len()].id);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let core = if i % 2 == 0 {
                core_of_worker_0
            } else {
                core_of_worker_1
            };
            coro.task("pinned").cores(&[core]).spawn::<Worker>(async {
                let first = worker_name();
                yield_now().await;
                async {}.on::<Main>().await; // there and back: still pinned
                (first, worker_name())
            })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let want = if i % 2 == 0 {
            "bevy_coro worker 0"
        } else {
            "bevy_coro worker 1"
        };
        let (first, last) = run_task(&mut app, task).unwrap();
        assert_eq!((first.as_str(), last.as_str()), (want, want), "task {i}");
    }
}

#[test]
fn impossible_core_masks_are_refused_at_spawn() {
    let app = app(1);
    let coro = coro(&app);
    let unpinned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = coro.task("x").cores(&[0]);
    }));
    assert!(panic_text(&*unpinned.expect_err("accepted")).contains("pin_workers: true"));

    let mut pinned = App::new();
    pinned.add_plugins(CoroPlugin {
        workers: 1,
        pin_workers: true,
        ..Default::default()
    });
    let coro = pinned.world().resource::<Coro>().clone();
    if core_affinity::get_core_ids().unwrap_or_default().is_empty() {
        println!("skipped: core ids are not available here");
        return;
    }
    let empty = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = coro.task("x").cores(&[]);
    }));
    assert!(panic_text(&*empty.expect_err("accepted")).contains("names no core"));
    let nowhere = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = coro.task("x").cores(&[63]);
    }));
    assert!(panic_text(&*nowhere.expect_err("accepted")).contains("no worker is pinned"));
}
