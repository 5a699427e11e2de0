//! What the benchmark binaries share.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use bevy_coro::runtime::{Runtime, RuntimeConfig};

pub mod all_of;

/// The peers, each on `threads` threads of its own: bevy_coro, tokio,
/// async-executor and bevy_tasks. Each benchmark adds what it asks of them.
#[allow(dead_code)] // not every benchmark binary sets the peers side by side
pub enum Peer {
    Coro(Runtime),
    Tokio(tokio::runtime::Runtime),
    AsyncExecutor(ExecutorThreads),
    BevyTasks(bevy_tasks::TaskPool),
}

#[allow(dead_code)]
impl Peer {
    /// Every peer, named as its benchmark IDs name it.
    pub fn all(threads: usize) -> Vec<(&'static str, Peer)> {
        let coro = Runtime::new(RuntimeConfig {
            workers: threads,
            ..Default::default()
        })
        .unwrap();
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .build()
            .unwrap();
        let pool = bevy_tasks::TaskPoolBuilder::new()
            .num_threads(threads)
            .build();
        vec![
            ("bevy_coro", Peer::Coro(coro)),
            ("tokio", Peer::Tokio(tokio)),
            (
                "async-executor",
                Peer::AsyncExecutor(ExecutorThreads::start(threads)),
            ),
            ("bevy_tasks", Peer::BevyTasks(pool)),
        ]
    }
}

/// async-executor run the way its users run it: an `Executor` driven by
/// threads of its own. Dropping it stops and joins the threads.
#[allow(dead_code)] // not every benchmark binary sets the peers side by side
pub struct ExecutorThreads {
    pub executor: Arc<async_executor::Executor<'static>>,
    threads: Vec<JoinHandle<()>>,
    stop: async_channel::Sender<()>,
}

impl ExecutorThreads {
    pub fn start(count: usize) -> Self {
        let executor = Arc::new(async_executor::Executor::new());
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let threads = (0..count)
            .map(|_| {
                let (executor, stopped) = (executor.clone(), stopped.clone());
                std::thread::spawn(move || {
                    futures_lite::future::block_on(executor.run(stopped.recv())).unwrap_or(())
                })
            })
            .collect();
        ExecutorThreads {
            executor,
            threads,
            stop,
        }
    }
}

impl Drop for ExecutorThreads {
    fn drop(&mut self) {
        self.stop.close();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Counts finished tasks; the last one of a round wakes the bench thread.
#[derive(Clone)]
#[allow(dead_code)] // not every benchmark binary counts finished tasks
pub struct Finish {
    done: Arc<AtomicUsize>,
    target: usize,
    signal: SyncSender<()>,
}

#[allow(dead_code)]
impl Finish {
    pub fn new(target: usize) -> (Self, Receiver<()>) {
        let (signal, wait) = sync_channel(1);
        let finish = Finish {
            done: Arc::new(AtomicUsize::new(0)),
            target,
            signal,
        };
        (finish, wait)
    }

    pub fn one(&self) {
        if self.done.fetch_add(1, Ordering::AcqRel) + 1 == self.target {
            self.done.store(0, Ordering::Release);
            self.signal.send(()).unwrap();
        }
    }
}

/// One hop main → worker → main on bevy_coro: a main task sends its work to
/// a worker and back, pumped until it is done.
#[allow(dead_code)] // not every benchmark binary hops
pub fn hop_once(runtime: &Runtime) -> Result<i32, bevy_coro::TaskError> {
    use bevy_coro::prelude::*;
    let mut task = runtime.spawn::<Main>(async { async { 1 }.on::<Worker>().await });
    loop {
        runtime.pump(std::time::Instant::now(), None);
        if let Some(result) = task.try_take() {
            return result;
        }
    }
}
