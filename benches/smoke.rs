//! A smoke benchmark so the layout is there; the comparisons with tokio,
//! async-executor and bevy_tasks come with the benchmark issue.

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
        let done = Arc::new(AtomicUsize::new(0));
        b.iter(|| {
            done.store(0, Ordering::Relaxed);
            for _ in 0..1000 {
                let done = done.clone();
                runtime
                    .spawn::<Worker>(async move {
                        done.fetch_add(1, Ordering::Release);
                    })
                    .detach();
            }
            while done.load(Ordering::Acquire) < 1000 {
                std::hint::spin_loop();
            }
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
