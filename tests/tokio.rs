//! Feature `tokio`: worker tasks await tokio IO; results land in the World.
#![cfg(feature = "tokio")]

mod common;

use bevy_app::App;
use bevy_coro::CoroTokio;
use bevy_coro::WorkerPriority;
use bevy_coro::prelude::*;
use bevy_ecs::prelude::*;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Resource)]
struct Received(String);

// Single-threaded, the pump enters the tokio runtime for the worker tasks
// it runs, and tokio's own thread drives the IO.
in_each_mode! {
fn worker_tasks_talk_tcp_through_tokio_and_apply_results_with_with_world(workers = 2) {
    let mut app = app(workers);
    let coro = coro(&app);
    let client = coro.clone();
    coro.spawn::<Worker>(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        // The client is another worker task.
        client
            .spawn::<Worker>(async move {
                let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
                stream.write_all(b"hello from a worker").await.unwrap();
            })
            .detach();
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).await.unwrap();
        // tokio's timer works too.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        with_world(move |world| world.insert_resource(Received(text))).await;
    })
    .detach();
    update_until(&mut app, "the message arrived", |app| {
        app.world().contains_resource::<Received>()
    });
    assert_eq!(app.world().resource::<Received>().0, "hello from a worker");
}
}

#[test]
fn a_current_thread_runtime_is_refused_at_build() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        App::new().add_plugins(CoroPlugin {
            workers: 1,
            tokio: CoroTokio::Handle(runtime.handle().clone()),
            ..Default::default()
        });
    }));
    let message = panic_text(&*result.expect_err("accepted"));
    assert!(
        message.contains("needs a multi-thread tokio runtime"),
        "{message}"
    );
}

#[test]
fn a_given_multi_thread_runtime_is_entered() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut app = App::new();
    app.add_plugins(CoroPlugin {
        workers: 1,
        tokio: CoroTokio::Handle(runtime.handle().clone()),
        ..Default::default()
    });
    let task = coro(&app).spawn::<Worker>(async {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        tokio::runtime::Handle::current().runtime_flavor()
            == tokio::runtime::RuntimeFlavor::MultiThread
    });
    assert_eq!(run_task(&mut app, task), Ok(true));
    drop(app);
}

#[test]
fn the_rescue_thread_polls_tokio_futures_too() {
    if !cfg!(target_os = "linux") {
        println!("skipped: the rescue thread exists on Linux only");
        return;
    }
    let mut app = App::new();
    app.add_plugins(CoroPlugin {
        workers: 1,
        worker_priority: WorkerPriority::Background,
        ..Default::default()
    });
    let coro = coro(&app);
    if !background_worker_ready(&coro) {
        return;
    }
    // Every core busy at normal priority: the background worker starves, and
    // the tasks run on the rescue thread, which must have tokio's context.
    let hogs = Hogs::start();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..100 {
        let done = done.clone();
        coro.spawn::<Worker>(async move {
            // Work first: most first polls, which make the tokio timer, are
            // the rescue thread's.
            busy(std::time::Duration::from_millis(2));
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
        .detach();
    }
    update_until(&mut app, "the tasks ran", |_| {
        done.load(std::sync::atomic::Ordering::Relaxed) == 100 || coro.stats().panics > 0
    });
    drop(hogs);
    let stats = coro.stats();
    assert_eq!(stats.panics, 0, "a poll outside tokio's context panics");
    assert_eq!(done.load(std::sync::atomic::Ordering::Relaxed), 100);
    assert!(stats.workers.rescued > 0, "{:?}", stats.workers);
}
