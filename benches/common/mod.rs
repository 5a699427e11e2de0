//! What the benchmark binaries share.

use std::sync::Arc;
use std::thread::JoinHandle;

/// async-executor run the way its users run it: an `Executor` driven by
/// threads of its own. Dropping it stops and joins the threads.
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
