//! Messages through actors, on 2 worker threads, sent from the bench
//! thread; the figure is per message (throughput: messages per second).
//!
//! - `*/one_actor`: 10,000 messages to one actor, then an ask that waits
//!   for all of them to be handled.
//! - `*/1000_actors`: 10 messages to each of 1,000 actors (round robin),
//!   then an ask to each.
//!
//! Peers: `bevy_coro` (`Actor`, a worker actor with the default batch of
//! 32) against `tokio` (the usual hand-written actor: a task reading an
//! unbounded `mpsc` channel, asks answered through a `oneshot`).

use bevy_coro::prelude::*;
use bevy_coro::runtime::{Runtime, RuntimeConfig, block_on};
use bevy_coro::{Behavior, SpawnActor};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::sync::{mpsc, oneshot};

const THREADS: usize = 2;
const ONE_ACTOR: u64 = 10_000;
const MANY: usize = 1_000;
const EACH: u64 = 10;

/// The bevy_coro actor: a running total.
struct Total(u64);

impl Behavior<u64, u64> for Total {
    async fn handle(&mut self, n: u64) -> u64 {
        self.0 += n;
        self.0
    }
}

/// The tokio actor's messages.
enum Msg {
    Add(u64),
    Get(oneshot::Sender<u64>),
}

/// The usual tokio actor: a task that owns its state and reads a channel.
fn tokio_actor(runtime: &tokio::runtime::Runtime) -> mpsc::UnboundedSender<Msg> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    runtime.spawn(async move {
        let mut total = 0u64;
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Add(n) => total += n,
                Msg::Get(reply) => {
                    let _ = reply.send(total);
                }
            }
        }
    });
    tx
}

fn coro_actor(runtime: &Runtime) -> Actor<u64, u64> {
    runtime.actor("total").spawn::<Worker>(Total(0))
}

fn actors(c: &mut Criterion) {
    let coro = Runtime::new(RuntimeConfig {
        workers: THREADS,
        ..Default::default()
    })
    .unwrap();
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(THREADS)
        .build()
        .unwrap();

    let mut group = c.benchmark_group("actors");
    group.throughput(Throughput::Elements(ONE_ACTOR + 1));
    group.bench_function("bevy_coro/one_actor", |b| {
        let actor = coro_actor(&coro);
        b.iter(|| {
            for n in 0..ONE_ACTOR {
                actor.send(n).unwrap();
            }
            block_on(actor.ask(0)).unwrap()
        });
    });
    group.bench_function("tokio/one_actor", |b| {
        let actor = tokio_actor(&tokio);
        b.iter(|| {
            for n in 0..ONE_ACTOR {
                actor.send(Msg::Add(n)).unwrap();
            }
            let (reply, answer) = oneshot::channel();
            actor.send(Msg::Get(reply)).unwrap();
            answer.blocking_recv().unwrap()
        });
    });

    group.throughput(Throughput::Elements(MANY as u64 * (EACH + 1)));
    group.bench_function("bevy_coro/1000_actors", |b| {
        let actors: Vec<_> = (0..MANY).map(|_| coro_actor(&coro)).collect();
        b.iter(|| {
            for n in 0..EACH {
                for actor in &actors {
                    actor.send(n).unwrap();
                }
            }
            let replies: Vec<_> = actors.iter().map(|actor| actor.ask(0)).collect();
            replies
                .into_iter()
                .map(|reply| block_on(reply).unwrap())
                .sum::<u64>()
        });
    });
    group.bench_function("tokio/1000_actors", |b| {
        let actors: Vec<_> = (0..MANY).map(|_| tokio_actor(&tokio)).collect();
        b.iter(|| {
            for n in 0..EACH {
                for actor in &actors {
                    actor.send(Msg::Add(n)).unwrap();
                }
            }
            let answers: Vec<_> = actors
                .iter()
                .map(|actor| {
                    let (reply, answer) = oneshot::channel();
                    actor.send(Msg::Get(reply)).unwrap();
                    answer
                })
                .collect();
            answers
                .into_iter()
                .map(|answer| answer.blocking_recv().unwrap())
                .sum::<u64>()
        });
    });
    group.finish();
}

criterion_group!(benches, actors);
criterion_main!(benches);
