//! Feature `tokio`: worker tasks (and main-thread tasks) can await futures
//! that need a tokio runtime (`tokio::net`, `tokio::time`, and the crates
//! built on them), because every worker thread, and the pump, enter a tokio
//! runtime's handle. The plugin owns that runtime, or is given one. With
//! `workers: 0` (single-threaded) the pump runs the worker tasks inside that
//! handle too, and tokio's own thread drives their IO and timers, so the
//! same tasks work in both modes (not on `wasm32`, where tokio's runtime has
//! no threads: leave the feature off there).

use std::sync::Arc;

use crate::runtime::WorkerWrapper;

/// Which tokio runtime the scheduler's threads enter.
#[derive(Debug, Clone, Default)]
pub enum CoroTokio {
    /// The plugin starts a multi-thread tokio runtime of its own (one thread,
    /// for tokio's IO and timer drivers) and drops it with the App. The default.
    /// Every thread it starts runs at normal priority, also a blocking-pool
    /// thread started from a background worker (where the OS allows it; see
    /// [`WorkerPriority::Background`](crate::WorkerPriority::Background)).
    #[default]
    Owned,
    /// Enter this runtime's handle; it must be a multi-thread runtime, whose
    /// drivers run on their own (a current-thread runtime only drives IO
    /// inside its `block_on`, so awaits would hang: refused at build).
    Handle(tokio::runtime::Handle),
    /// Enter none: tokio futures awaited in tasks panic with tokio's message.
    Off,
}

/// The tokio runtime the scheduler enters, and the one it owns, if it does.
#[derive(Debug)]
pub(crate) struct TokioContext {
    /// Kept to be dropped with the App, after the scheduler.
    _owned: Option<tokio::runtime::Runtime>,
    pub(crate) handle: tokio::runtime::Handle,
}

impl TokioContext {
    /// Sets up the runtime to enter. `None` for [`CoroTokio::Off`].
    ///
    /// # Panics
    ///
    /// When given a current-thread runtime's handle, or when the owned
    /// runtime cannot start.
    pub(crate) fn new(config: &CoroTokio) -> Option<Self> {
        match config {
            CoroTokio::Off => None,
            CoroTokio::Handle(handle) => {
                assert!(
                    handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::CurrentThread,
                    "CoroPlugin {{ tokio: CoroTokio::Handle(..) }} needs a multi-thread tokio runtime: \
                     a current-thread runtime drives IO only inside its own block_on, so tasks \
                     awaiting tokio IO would hang"
                );
                Some(TokioContext {
                    _owned: None,
                    handle: handle.clone(),
                })
            }
            CoroTokio::Owned => {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("bevy_coro tokio")
                    // Its blocking pool starts threads from the thread that
                    // asks (a worker task's `spawn_blocking`, or tokio's own
                    // file and DNS calls), which may be a background worker:
                    // they would inherit its priority, and the cores it keeps
                    // to (off the main thread's).
                    .on_thread_start(|| {
                        crate::runtime::restore_this_thread();
                        crate::runtime::run_anywhere();
                    })
                    .enable_all()
                    .build()
                    .unwrap_or_else(|error| {
                        panic!("CoroPlugin: cannot start a tokio runtime: {error}")
                    });
                let handle = runtime.handle().clone();
                Some(TokioContext {
                    _owned: Some(runtime),
                    handle,
                })
            }
        }
    }

    /// Runs each worker's loop inside the entered handle.
    pub(crate) fn worker_wrapper(&self) -> WorkerWrapper {
        let handle = self.handle.clone();
        WorkerWrapper(Arc::new(move |run: &mut dyn FnMut()| {
            let _entered = handle.enter();
            run();
        }))
    }
}
