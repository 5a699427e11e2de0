//! Bad input gets clear errors.

mod common;

use bevy_coro::prelude::*;
use bevy_coro::runtime::{Runtime, RuntimeConfig};
use common::*;

#[test]
fn a_hop_outside_a_task_panics_and_says_so() {
    let message = poll_once_outside_task(async { 1 }.on::<Worker>()).expect("no panic");
    assert!(
        message.contains("`.on::<Worker>()` was awaited outside a bevy_coro task"),
        "{message}"
    );
    let message = poll_once_outside_task(async { 1 }.on::<Main>()).expect("no panic");
    assert!(message.contains("outside a bevy_coro task"), "{message}");
}

#[test]
fn with_world_outside_a_task_panics_and_says_so() {
    let message = poll_once_outside_task(with_world(|_| ())).expect("no panic");
    assert!(
        message.contains("`with_world` was awaited outside a bevy_coro task"),
        "{message}"
    );
}

#[test]
fn next_frame_outside_a_task_panics_and_says_so() {
    let message = poll_once_outside_task(next_frame()).expect("no panic");
    assert!(message.contains("outside a bevy_coro task"), "{message}");
}

#[test]
fn spawn_local_off_the_main_thread_panics() {
    let app = app(1);
    let coro = coro(&app);
    let result = std::thread::spawn(move || coro.spawn_local(async {}).detach()).join();
    let payload = result.expect_err("spawn_local from another thread was accepted");
    let message = panic_text(&*payload);
    assert!(
        message.contains("must be called on the main thread"),
        "{message}"
    );
}

#[test]
fn with_world_in_a_runtime_pumped_by_hand_reports_the_missing_world() {
    let runtime = Runtime::new(RuntimeConfig {
        workers: 1,
        ..Default::default()
    })
    .unwrap();
    let mut task = runtime.spawn::<Main>(async { with_world(|_| ()).await });
    runtime.pump(std::time::Instant::now(), None);
    match task.try_take() {
        Some(Err(TaskError::Panicked(message))) => {
            assert!(message.contains("needs the World"), "{message}")
        }
        other => panic!("expected a panic, got {other:?}"),
    }
}
