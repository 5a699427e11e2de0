//! A smoke benchmark: one spawn and one pump, the floor the other groups
//! (scheduling, timers, memory, scaling, profile) compare with the peers.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bevy_coro::prelude::*;
use bevy_coro::runtime::{Runtime, RuntimeConfig};
use criterion::{Criterion, criterion_group, criterion_main};

fn smoke(c: &mut Criterion) {
    let runtime = Runtime::new(RuntimeConfig {
        workers: 2,
        ..Default::default()
    })
    .unwrap();
    let mut group = c.benchmark_group("smoke");
    group.bench_function("empty pump", |b| {
        b.iter(|| black_box(runtime.pump(Instant::now(), None)))
    });
    group.bench_function("spawn + complete 1000 worker tasks", |b| {
        // The last task to finish wakes the (blocked, not spinning) bench
        // thread, so the two workers have both cores.
        let done = Arc::new(AtomicUsize::new(0));
        let (finished, all_done) = std::sync::mpsc::sync_channel::<()>(1);
        b.iter(|| {
            done.store(0, Ordering::Relaxed);
            for _ in 0..1000 {
                let (done, finished) = (done.clone(), finished.clone());
                runtime
                    .spawn::<Worker>(async move {
                        if done.fetch_add(1, Ordering::AcqRel) + 1 == 1000 {
                            finished.send(()).unwrap();
                        }
                    })
                    .detach();
            }
            all_done.recv().unwrap();
        })
    });
    group.bench_function("100 worker tasks x 100 yields", |b| {
        let (finished, all_done) = std::sync::mpsc::sync_channel::<()>(1);
        let done = Arc::new(AtomicUsize::new(0));
        b.iter(|| {
            done.store(0, Ordering::Relaxed);
            for _ in 0..100 {
                let (done, finished) = (done.clone(), finished.clone());
                runtime
                    .spawn::<Worker>(async move {
                        for _ in 0..100 {
                            yield_now().await;
                        }
                        if done.fetch_add(1, Ordering::AcqRel) + 1 == 100 {
                            finished.send(()).unwrap();
                        }
                    })
                    .detach();
            }
            all_done.recv().unwrap();
        })
    });
    group.bench_function("hop main -> worker -> main", |b| {
        b.iter(|| {
            let mut task = runtime.spawn::<Main>(async { async { 1 }.on::<Worker>().await });
            loop {
                runtime.pump(Instant::now(), None);
                if let Some(result) = task.try_take() {
                    break black_box(result);
                }
            }
        })
    });
    group.finish();
}

criterion_group!(benches, smoke);
criterion_main!(benches);
