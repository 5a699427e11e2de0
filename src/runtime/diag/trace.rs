//! Tracing (feature `trace`): a span per task poll named after the task, so
//! Tracy and other `tracing` tools show which task ran, where and how long.
//!
//! `tracing` names spans at their callsite, which macros make static. Task
//! names are known only at spawn, so each distinct name (or spawn location)
//! gets one callsite of its own, made on the first traced poll and kept for
//! the life of the process: their number is bounded by the program's spawn
//! sites and names, not by the tasks spawned.

use std::collections::HashMap;
use std::sync::atomic::{AtomicPtr, AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use tracing::callsite::{Callsite, Identifier};
use tracing::field::{Field, FieldSet, Value};
use tracing::metadata::Kind;
use tracing::span::EnteredSpan;
use tracing::subscriber::Interest;
use tracing::{Level, Metadata, Span};

const FIELDS: &[&str] = &["task.id", "affinity"];

/// A callsite named after a task.
struct TaskCallsite {
    metadata: OnceLock<Metadata<'static>>,
    fields: OnceLock<(Field, Field)>,
    /// 0: never, 1: sometimes, 2: always (as the subscribers said).
    interest: AtomicU8,
}

impl Callsite for TaskCallsite {
    fn set_interest(&self, interest: Interest) {
        let code = if interest.is_never() {
            0
        } else if interest.is_always() {
            2
        } else {
            1
        };
        self.interest.store(code, Ordering::Relaxed);
    }

    fn metadata(&self) -> &Metadata<'_> {
        self.metadata
            .get()
            .expect("metadata is set before registration")
    }
}

impl TaskCallsite {
    /// Makes, leaks and registers the callsite for spans named `name`.
    fn new(name: &'static str) -> &'static TaskCallsite {
        let callsite: &'static TaskCallsite = Box::leak(Box::new(TaskCallsite {
            metadata: OnceLock::new(),
            fields: OnceLock::new(),
            interest: AtomicU8::new(1),
        }));
        let metadata = Metadata::new(
            name,
            "bevy_coro::task",
            Level::INFO,
            None,
            None,
            None,
            FieldSet::new(FIELDS, Identifier(callsite)),
            Kind::SPAN,
        );
        let _ = callsite.metadata.set(metadata);
        let fields = &callsite.metadata.get().expect("just set").fields();
        let _ = callsite.fields.set((
            fields.field(FIELDS[0]).expect("declared above"),
            fields.field(FIELDS[1]).expect("declared above"),
        ));
        tracing::callsite::register(callsite);
        callsite
    }

    fn enabled(&'static self) -> bool {
        match self.interest.load(Ordering::Relaxed) {
            0 => false,
            2 => true,
            _ => tracing::dispatcher::get_default(|dispatch| dispatch.enabled(self.metadata())),
        }
    }
}

/// A task's callsite, made on its first traced poll (null until then).
#[derive(Default)]
pub(crate) struct CallsiteCell(AtomicPtr<TaskCallsite>);

impl CallsiteCell {
    fn get_or_make(&self, key: (&'static str, u32)) -> &'static TaskCallsite {
        let ptr = self.0.load(Ordering::Acquire);
        // SAFETY: a non-null pointer here was stored from a `&'static
        // TaskCallsite` below; callsites are leaked, never freed.
        if let Some(callsite) = unsafe { ptr.cast_const().as_ref() } {
            return callsite;
        }
        let callsite = intern(key);
        self.0.store(
            (callsite as *const TaskCallsite).cast_mut(),
            Ordering::Release,
        );
        callsite
    }
}

/// The callsite for a task's name: `(name, 0)` for a given name, or
/// `(file, line)` for a spawn location.
fn intern(key: (&'static str, u32)) -> &'static TaskCallsite {
    static CALLSITES: Mutex<Option<HashMap<(&str, u32), &'static TaskCallsite>>> = Mutex::new(None);
    let mut callsites = CALLSITES.lock().unwrap_or_else(PoisonError::into_inner);
    let entry = callsites.get_or_insert_with(HashMap::new).entry(key);
    let callsite: &'static TaskCallsite = entry.or_insert_with(|| {
        let name = match key {
            (name, 0) => name,
            (file, line) => Box::leak(format!("{file}:{line}").into_boxed_str()),
        };
        TaskCallsite::new(name)
    });
    callsite
}

/// What a poll's span shows of its task.
pub(crate) struct PollInfo {
    /// The task's name key: `(name, 0)`, or `(file, line)` of its spawn.
    pub(crate) key: (&'static str, u32),
    pub(crate) id: u64,
    /// `"Main"` or `"Worker"`.
    pub(crate) affinity: &'static str,
}

/// Enters a span for one poll of the task whose callsite `cell` holds, if
/// anyone listens; `info` is asked only then.
#[inline]
pub(crate) fn enter_poll(
    cell: &CallsiteCell,
    info: impl FnOnce() -> PollInfo,
) -> Option<EnteredSpan> {
    if !tracing::dispatcher::has_been_set() {
        return None;
    }
    let info = info();
    let callsite = cell.get_or_make(info.key);
    if !callsite.enabled() {
        return None;
    }
    let metadata: &'static Metadata<'static> = callsite.metadata.get().expect("set at creation");
    let (id_field, affinity_field) = callsite.fields.get().expect("set at creation");
    let values = [
        (id_field, Some(&info.id as &dyn Value)),
        (affinity_field, Some(&info.affinity as &dyn Value)),
    ];
    Some(Span::new(metadata, &metadata.fields().value_set(&values)).entered())
}
