//! The live task list (`RuntimeConfig::track_tasks`): every task from its
//! spawn to the drop of its future, with its state, its polls and what it
//! waits for, for [`Handle::tasks`](crate::runtime::Handle::tasks).
//!
//! It is a side registry, made only when tracking is on: the task header
//! stays 32 bytes and a runtime without it pays one predictable branch per
//! poll (the one the wait graph already had). With it, each task has an
//! entry, keyed by its header's address in one of 16 locked shards:
//!
//! - the spawn files the entry (its name, location, parent, spawn time);
//! - each poll takes its shard's lock once to find the entry, marks it
//!   running, and polls the future with a waker of the entry's own (made
//!   once per task, so `Waker::will_wake` still holds across polls): a wake
//!   through it marks the task queued, then wakes the task. After the poll
//!   the entry counts the poll and its time, and a task not woken meanwhile
//!   is waiting;
//! - awaitables polled pending (task handles, timers, game waits,
//!   `with_world`) note what they wait for with [`note`], into the entry of
//!   the task being polled on this thread;
//! - the task's end removes the entry.
//!
//! Wakes that do not come through the task's future (a cancel reaches the
//! task through its registered waker) leave the task listed as waiting
//! until its next poll, which ends it.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::panic::Location;
use std::ptr;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Wake, Waker};
use std::time::Duration;

use super::snapshot::{RunsOn, TaskSnapshot, TaskState, WaitingOn};
use crate::runtime::Owner;
use crate::runtime::task::header::Header;
use crate::runtime::task::options::{Priority, Side};
use crate::runtime::timer::Instant;

/// Shards of the list: as many as the parked-task registry's.
const SHARDS: usize = 16;
/// What one poll notes at most (a `join_all` of a thousand handles would
/// otherwise copy a thousand notes per poll).
const MAX_NOTES: usize = 8;

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const WAITING: u8 = 2;

/// What an awaitable noted its task waits for (the list's own form of
/// [`WaitingOn`]: ids and deadlines, resolved when a snapshot is taken).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Note {
    /// A task's handle: that task's id.
    Task(u64),
    /// A timer due at this time (the runtime clock's nanoseconds).
    Timer(u64),
    /// A game wait: its kind and the type it waits on.
    Game(&'static str, &'static str),
    /// A `with_world` closure.
    World,
}

/// One task's entry.
pub(crate) struct Tracked {
    id: u64,
    name: Option<&'static str>,
    location: &'static Location<'static>,
    parent: Option<u64>,
    local: bool,
    priority: Priority,
    spawned_nanos: u64,
    spawned_frame: u64,
    state: AtomicU8,
    side: AtomicU8,
    polls: AtomicU64,
    poll_nanos: AtomicU64,
    longest_nanos: AtomicU64,
    /// Noted in the last poll.
    notes: Mutex<Vec<Note>>,
    owner: Mutex<Option<Owner>>,
    /// The task's own waker, taken at its first poll: what the entry's
    /// waker wakes.
    task: OnceLock<Waker>,
}

impl Wake for Tracked {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Before the wake: the poll it may start marks the task running.
        self.state.store(QUEUED, Ordering::Release);
        if let Some(task) = self.task.get() {
            task.wake_by_ref();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while these locks are held; if it did, the data stays
    // consistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Hashes a header address: the address itself, as entries are unique by it.
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 << 8) | u64::from(byte);
        }
    }

    fn write_usize(&mut self, n: usize) {
        // Spread the bits an allocation's alignment leaves zero.
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type Entries = HashMap<usize, Arc<Tracked>, BuildHasherDefault<AddressHasher>>;

/// Keeps a shard on its own cache lines.
#[repr(align(128))]
#[derive(Default)]
struct Shard(Mutex<Entries>);

/// The live task list of a runtime that tracks its tasks.
pub(crate) struct TaskList {
    shards: Box<[Shard]>,
}

thread_local! {
    /// The entry of the tracked task being polled on this thread, if any.
    static POLLING: RefCell<Option<Arc<Tracked>>> = const { RefCell::new(None) };
    /// Whether `POLLING` holds an entry: a plain flag (no destructor to
    /// register), so a wait polled in an untracked task notes nothing for
    /// the price of one load.
    static TRACKING: Cell<bool> = const { Cell::new(false) };
}

/// Notes what the task being polled on this thread waits for, if it is
/// tracked (a thread-local read otherwise).
#[inline]
pub(crate) fn note(note: Note) {
    if !TRACKING.get() {
        return;
    }
    // `try_with`: a wait polled by a thread-local's destructor notes nothing.
    let _ = POLLING.try_with(|tracked| {
        if let Some(tracked) = &*tracked.borrow() {
            let mut notes = lock(&tracked.notes);
            if notes.len() < MAX_NOTES && !notes.contains(&note) {
                notes.push(note);
            }
        }
    });
}

fn address(header: &Header) -> usize {
    ptr::from_ref(header) as usize
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl TaskList {
    pub(crate) fn new() -> Self {
        TaskList {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
        }
    }

    fn shard(&self, address: usize) -> MutexGuard<'_, Entries> {
        let index = ((address as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60) as usize;
        lock(&self.shards[index % SHARDS].0)
    }

    /// A task was spawned, at `now` (the runtime clock's nanoseconds) in
    /// pump `frame`, by `parent` (the task polled on this thread, if any).
    pub(crate) fn spawned(&self, header: &Header, parent: Option<u64>, now: u64, frame: u64) {
        let tracked = Arc::new(Tracked {
            id: header.id(),
            name: header.given_name(),
            location: header.location(),
            parent,
            local: header.is_local(),
            priority: header.priority(),
            spawned_nanos: now,
            spawned_frame: frame,
            state: AtomicU8::new(QUEUED),
            side: AtomicU8::new(header.affinity() as u8),
            polls: AtomicU64::new(0),
            poll_nanos: AtomicU64::new(0),
            longest_nanos: AtomicU64::new(0),
            notes: Mutex::new(Vec::new()),
            owner: Mutex::new(None),
            task: OnceLock::new(),
        });
        self.shard(address(header)).insert(address(header), tracked);
    }

    /// The task was tied to `owner` (an entity, a game state).
    pub(crate) fn owned(&self, header: &Header, owner: Owner) {
        let tracked = self.shard(address(header)).get(&address(header)).cloned();
        if let Some(tracked) = tracked {
            *lock(&tracked.owner) = Some(owner);
        }
    }

    /// A poll of the task starts; `waker` is the task's own. `None` for a
    /// task not in the list (spawned before... never: only if the list was
    /// not there at its spawn).
    pub(crate) fn poll_starts(&self, header: &Header, waker: &Waker) -> Option<Polling> {
        let tracked = self.shard(address(header)).get(&address(header)).cloned()?;
        tracked.task.get_or_init(|| waker.clone());
        tracked.state.store(RUNNING, Ordering::Release);
        lock(&tracked.notes).clear();
        let previous = POLLING.replace(Some(Arc::clone(&tracked)));
        TRACKING.set(true);
        Some(Polling {
            tracked,
            previous,
            start: Instant::now(),
        })
    }

    /// The task's future is gone.
    pub(crate) fn gone(&self, header: &Header) {
        let gone = self.shard(address(header)).remove(&address(header));
        // Dropped with no lock held: it may hold the last count of the task.
        drop(gone);
    }

    /// Every live task, as of `now` (the runtime clock's nanoseconds) and
    /// pump `frame`, oldest first.
    pub(crate) fn snapshot(&self, now: u64, frame: u64) -> Vec<TaskSnapshot> {
        let mut all: Vec<Arc<Tracked>> = Vec::new();
        for shard in self.shards.iter() {
            all.extend(lock(&shard.0).values().cloned());
        }
        let names: HashMap<u64, String> = all
            .iter()
            .map(|tracked| {
                let name = match tracked.name {
                    Some(name) => name.to_owned(),
                    None => tracked.location.to_string(),
                };
                (tracked.id, name)
            })
            .collect();
        let mut tasks: Vec<TaskSnapshot> = all
            .iter()
            .map(|tracked| {
                let state = match tracked.state.load(Ordering::Acquire) {
                    QUEUED => TaskState::Queued,
                    RUNNING => TaskState::Running,
                    _ => TaskState::Waiting,
                };
                let waiting_on = if state == TaskState::Waiting {
                    lock(&tracked.notes)
                        .iter()
                        .map(|note| match *note {
                            Note::Task(id) => WaitingOn::Task {
                                id,
                                name: names.get(&id).cloned(),
                            },
                            Note::Timer(due) => WaitingOn::Timer {
                                due_in: Duration::from_nanos(due.saturating_sub(now)),
                            },
                            Note::Game(kind, of) => WaitingOn::Game { kind, of },
                            Note::World => WaitingOn::World,
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                TaskSnapshot {
                    id: tracked.id,
                    name: tracked.name,
                    spawned_at: tracked.location,
                    parent: tracked.parent,
                    runs_on: match Side::from_u8(tracked.side.load(Ordering::Relaxed)) {
                        Side::Main => RunsOn::Main,
                        Side::Worker => RunsOn::Worker,
                    },
                    local: tracked.local,
                    priority: tracked.priority,
                    state,
                    waiting_on,
                    age: Duration::from_nanos(now.saturating_sub(tracked.spawned_nanos)),
                    age_frames: frame.saturating_sub(tracked.spawned_frame),
                    polls: tracked.polls.load(Ordering::Relaxed),
                    poll_time: Duration::from_nanos(tracked.poll_nanos.load(Ordering::Relaxed)),
                    longest_poll: Duration::from_nanos(
                        tracked.longest_nanos.load(Ordering::Relaxed),
                    ),
                    owner: lock(&tracked.owner).clone(),
                }
            })
            .collect();
        drop(all);
        tasks.sort_by_key(|task| (std::cmp::Reverse(task.age), task.id));
        tasks
    }
}

/// A tracked poll in progress: makes its task the one [`note`] writes to,
/// until dropped.
pub(crate) struct Polling {
    tracked: Arc<Tracked>,
    previous: Option<Arc<Tracked>>,
    start: Instant,
}

impl Polling {
    /// The waker to poll the task's future with: it marks the task queued,
    /// then wakes it.
    pub(crate) fn waker(&self) -> Waker {
        Waker::from(self.tracked.clone())
    }

    /// The poll ended (`pending`: the task parks); `side` is where the
    /// task runs now.
    pub(crate) fn end(self, pending: bool, side: Side) {
        let tracked = &self.tracked;
        let took = nanos(self.start.elapsed());
        tracked.polls.fetch_add(1, Ordering::Relaxed);
        tracked.poll_nanos.fetch_add(took, Ordering::Relaxed);
        tracked.longest_nanos.fetch_max(took, Ordering::Relaxed);
        tracked.side.store(side as u8, Ordering::Relaxed);
        if pending {
            // Woken during the poll (a yield, a hop): it stays queued.
            let _ = tracked.state.compare_exchange(
                RUNNING,
                WAITING,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
    }
}

impl Drop for Polling {
    fn drop(&mut self) {
        let previous = self.previous.take();
        TRACKING.set(previous.is_some());
        let _ = POLLING.try_with(|polling| polling.replace(previous));
    }
}
