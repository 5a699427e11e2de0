//! Feature `trace`: a span per task poll, named after the task, on the thread
//! that polled it; a span per pump; a frame mark per pump. Alone in its test
//! binary, since it installs a global subscriber.
#![cfg(feature = "trace")]

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};

use bevy_coro::prelude::*;
use common::*;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records span entries (name, thread) and frame marks.
#[derive(Default)]
struct Recorder {
    next: AtomicU64,
    names: Mutex<HashMap<u64, &'static str>>,
    entered: Mutex<Vec<(&'static str, ThreadId)>>,
    frame_marks: AtomicUsize,
    /// Events' fields, as `name=value` joined by spaces.
    events: Mutex<Vec<String>>,
}

/// Writes an event's fields as `name=value` pairs.
struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0 += &format!("{}={value:?} ", field.name());
    }
}

/// The subscriber: a handle on the shared recorder.
struct Recording(Arc<Recorder>);

impl Subscriber for Recording {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.0.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.0
            .names
            .lock()
            .unwrap()
            .insert(id, span.metadata().name());
        Id::from_u64(id)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        if event
            .metadata()
            .fields()
            .field("tracy.frame_mark")
            .is_some()
        {
            self.0.frame_marks.fetch_add(1, Ordering::Relaxed);
        }
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.0.events.lock().unwrap().push(fields.0);
    }
    fn enter(&self, span: &Id) {
        let name = self.0.names.lock().unwrap()[&span.into_u64()];
        self.0
            .entered
            .lock()
            .unwrap()
            .push((name, thread::current().id()));
    }
    fn exit(&self, _: &Id) {}
}

impl Recorder {
    fn entries(&self, name: &str) -> Vec<ThreadId> {
        let entered = self.entered.lock().unwrap();
        entered
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .collect()
    }
}

#[test]
fn task_polls_pumps_and_frames_are_traced() {
    let recorder = Arc::new(Recorder::default());
    tracing::subscriber::set_global_default(Recording(recorder.clone())).unwrap();
    let main = thread::current().id();

    let mut app = app(2);
    let coro = coro(&app);
    let a = coro.task("a").spawn::<Main>(async {
        for _ in 0..3 {
            yield_now().await;
        }
    });
    let b = coro.task("b").spawn::<Worker>(async { 7 });
    let mut frames = 0;
    let (mut a, mut b) = (a, b);
    let (mut a_done, mut b_done) = (false, false);
    while !(a_done && b_done) {
        app.update();
        frames += 1;
        a_done |= a.try_take().is_some();
        b_done |= b.try_take().is_some();
        assert!(frames < 10_000, "tasks never finished");
    }

    // "a" yielded 3 times: 4 polls, each a span entered on the App's thread.
    assert_eq!(recorder.entries("a"), vec![main; 4]);
    // "b" ran once, on a worker.
    let b_threads = recorder.entries("b");
    assert_eq!(b_threads.len(), 1);
    assert_ne!(b_threads[0], main);
    // One pump span and one frame mark per frame.
    assert_eq!(recorder.entries("pump").len(), frames);
    assert_eq!(recorder.frame_marks.load(Ordering::Relaxed), frames);

    // Unnamed tasks are named after where they were spawned.
    let line = line!() + 1;
    let unnamed = coro.spawn::<Main>(async {});
    run_task(&mut app, unnamed).unwrap();
    let location = format!("{}:{line}", file!());
    assert_eq!(
        recorder.entries(&location).len(),
        1,
        "no span named {location}"
    );

    // A panicking `on_cancel` cleanup is logged as a task panic is, with
    // its task's name and the panic message.
    let doomed = coro.task("doomed").spawn::<Main>(async {
        on_cancel(|_| panic!("[injected] cleanup"));
        std::future::pending::<()>().await
    });
    app.update();
    drop(doomed);
    app.update();
    let events = recorder.events.lock().unwrap();
    assert!(
        events
            .iter()
            .any(|event| event.contains("task cleanup panicked")
                && event.contains("doomed")
                && event.contains("[injected] cleanup")),
        "{events:?}"
    );
}
