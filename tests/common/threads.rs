//! The test's threads as the OS schedules them: their policy, nice value,
//! allowed cores and last core (Linux, from `/proc`), which of them run
//! worker tasks, whether a worker got background priority, and hogs that
//! fill every core.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bevy_coro::prelude::*;

/// Threads at normal priority that spin on every core until dropped.
pub struct Hogs {
    stop: Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Hogs {
    /// Returns once every hog spins.
    pub fn start() -> Hogs {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let spinning = Arc::new(AtomicUsize::new(0));
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let threads = (0..cores)
            .map(|_| {
                let (stop, spinning) = (stop.clone(), spinning.clone());
                std::thread::spawn(move || {
                    spinning.fetch_add(1, Ordering::Relaxed);
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        while spinning.load(Ordering::Relaxed) < cores {
            std::thread::yield_now();
        }
        Hogs { stop, threads }
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            thread.join().unwrap();
        }
    }
}

/// Lets one of `handle`'s workers run a task (a worker lowers its priority as
/// it starts) and says whether it runs at background priority; when not, it
/// prints why the calling test is skipped.
pub fn background_worker_ready(handle: &bevy_coro::runtime::Handle) -> bool {
    bevy_coro::runtime::block_on(handle.spawn::<Worker>(async {})).unwrap();
    let ready = handle.stats().workers.background > 0;
    if !ready {
        println!("skipped: the OS refused background priority here (seccomp?)");
    }
    ready
}

/// The scheduling policy of the calling thread, from /proc (Linux: 0 normal,
/// 3 batch, 5 idle).
pub fn this_thread_policy() -> Option<u32> {
    this_thread_stat(41)
}

/// The calling thread's nice value (Linux, from `/proc`; `None` elsewhere).
pub fn this_thread_nice() -> Option<i32> {
    this_thread_stat(19)
}

/// Field `field` (numbered from 1, as in `man proc`) of the calling
/// thread's `/proc/thread-self/stat`.
fn this_thread_stat<T: std::str::FromStr>(field: usize) -> Option<T> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name (in parentheses, may hold spaces) start
    // at field 3.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(field - 3)?
        .parse()
        .ok()
}

/// Whether this thread runs worker tasks: a worker, or the rescue thread,
/// which runs them while the background workers are kept off the CPU (as
/// on a loaded machine).
pub fn on_worker_side() -> bool {
    std::thread::current()
        .name()
        .is_some_and(|name| name.starts_with("bevy_coro worker") || name == "bevy_coro rescue")
}

/// The cores the calling thread may run on, from `Cpus_allowed_list`
/// ("0-3,6").
pub fn allowed_cores() -> Option<std::collections::BTreeSet<usize>> {
    allowed_cores_in("/proc/thread-self/status")
}

/// The cores this process's thread named `name` may run on (Linux's
/// `comm`, at most 15 bytes of the name), if there is one.
#[allow(dead_code)]
pub fn allowed_cores_of(name: &str) -> Option<std::collections::BTreeSet<usize>> {
    let comm = &name.as_bytes()[..name.len().min(15)];
    std::fs::read_dir("/proc/self/task").ok()?.find_map(|task| {
        let dir = task.ok()?.path();
        let named = std::fs::read(dir.join("comm")).ok()?;
        (named.strip_suffix(b"\n")? == comm)
            .then(|| allowed_cores_in(dir.join("status")))
            .flatten()
    })
}

/// `Cpus_allowed_list` of the `status` file at `path`.
fn allowed_cores_in(
    path: impl AsRef<std::path::Path>,
) -> Option<std::collections::BTreeSet<usize>> {
    let status = std::fs::read_to_string(path).ok()?;
    let list = status
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))?
        .trim();
    let mut cores = std::collections::BTreeSet::new();
    for part in list.split(',') {
        match part.split_once('-') {
            Some((first, last)) => cores.extend(first.parse::<usize>().ok()?..=last.parse().ok()?),
            None => {
                cores.insert(part.parse().ok()?);
            }
        }
    }
    Some(cores)
}

/// The core the calling thread last ran on (field 39 of its `stat`).
pub fn last_core() -> Option<usize> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(39 - 3)?
        .parse()
        .ok()
}
