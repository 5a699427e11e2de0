//! Cleanups at the edges: the App dropped, a seeded replay, a call outside
//! a task, a cleanup that undoes its task's work, the budget.

use super::*;

/// Dropping the App cancels every task; no cleanup runs then (there is no
/// World left), and every closure is dropped exactly once: those of running
/// tasks and those queued by tasks cancelled before the App went.
#[test]
fn at_shutdown_cleanups_are_dropped_unrun_exactly_once() {
    for workers in [0, 2] {
        let mut app = app_with_log(workers);
        let coro = coro(&app);
        let ran = Arc::new(AtomicUsize::new(0));
        let drops = DropCounter::default();
        let registered = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..20 {
            let (ran, token, registered) = (ran.clone(), drops.token(), registered.clone());
            tasks.push(spawn_on(&coro, i % 2 == 1, async move {
                on_cancel(move |_| {
                    let _token = token;
                    ran.fetch_add(1, Ordering::SeqCst);
                });
                registered.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<()>().await
            }));
        }
        update_until(&mut app, "registered", |_| {
            registered.load(Ordering::SeqCst) == 20
        });
        // Half cancelled now: their cleanups are queued (or about to be)
        // when the App goes.
        let cancelled: Vec<_> = tasks.drain(..10).collect();
        drop(cancelled);
        for task in tasks {
            task.detach();
        }
        drop(app);
        assert_eq!(ran.load(Ordering::SeqCst), 0, "none ran at shutdown");
        wait_until("every closure dropped", || drops.count() == 20);
        assert_eq!(drops.count(), 20);
    }
}

#[test]
fn cleanups_replay_in_the_same_order_with_one_seed() {
    fn run(seed: u64) -> Vec<u32> {
        let mut app = App::new();
        app.add_plugins(CoroPlugin {
            mode: CoroMode::Deterministic {
                seed,
                panic_on_deadlock: false,
            },
            ..Default::default()
        });
        app.init_resource::<Cleaned>();
        let coro = coro(&app);
        let tasks: Vec<_> = (0..50u32)
            .map(|id| {
                spawn_on(&coro, id % 3 != 0, async move {
                    on_cancel(log(id));
                    for _ in 0..id % 4 {
                        yield_now().await;
                    }
                    on_cancel(log(100 + id));
                    std::future::pending::<()>().await
                })
            })
            .collect();
        for _ in 0..6 {
            app.update();
        }
        // Cancelled in a seeded mix: half now, half in a later frame.
        let (early, late): (Vec<_>, Vec<_>) =
            tasks.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
        drop(early);
        app.update();
        drop(late);
        for _ in 0..3 {
            app.update();
        }
        cleaned(&app)
    }
    let first = run(7);
    assert_eq!(first.len(), 100);
    assert_eq!(first, run(7));
}

#[test]
fn on_cancel_outside_a_task_panics_with_a_clear_message() {
    let payload = std::panic::catch_unwind(|| on_cancel(|_| {})).unwrap_err();
    let message = panic_text(&*payload);
    assert!(message.contains("outside a bevy_coro task"), "{message}");
}

/// A cleanup gets the World: it can undo what the task spawned. Filed in
/// the `with_world` closure that spawns it, it leaves no window: the task
/// is cancelled here while it hops back to its worker, before any of its
/// code after the closure runs.
#[test]
fn a_cleanup_despawns_what_its_task_spawned() {
    #[derive(Component)]
    struct Banner;
    let mut app = app(1);
    let task = coro(&app).spawn::<Worker>(async {
        with_world(|world| {
            let banner = world.spawn(Banner).id();
            on_cancel(move |world| {
                world.despawn(banner);
            });
        })
        .await;
        std::future::pending::<()>().await
    });
    fn banners(app: &mut App) -> usize {
        let world = app.world_mut();
        world.query::<&Banner>().iter(world).count()
    }
    update_until(&mut app, "banner shown", |app| banners(app) == 1);
    drop(task);
    settle(&mut app);
    assert_eq!(banners(&mut app), 0);
}

/// Cleanups do not keep to `main_budget`: with a zero budget (one task poll
/// a frame), the next pump still runs every queued cleanup.
#[test]
fn cleanups_do_not_count_against_the_budget() {
    let mut app = app(2);
    app.world_mut()
        .resource_mut::<bevy_coro::CoroScheduler>()
        .main_budget = Some(std::time::Duration::ZERO);
    let coro = coro(&app);
    let count = Arc::new(AtomicUsize::new(0));
    let registered = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..1_000)
        .map(|_| {
            let (count, registered) = (count.clone(), registered.clone());
            coro.spawn::<Worker>(async move {
                on_cancel(move |_| {
                    count.fetch_add(1, Ordering::Relaxed);
                });
                registered.fetch_add(1, Ordering::Relaxed);
                std::future::pending::<()>().await
            })
        })
        .collect();
    wait_until("registered", || registered.load(Ordering::SeqCst) == 1_000);
    drop(tasks);
    // The workers drop them; the cleanups wait for the pump.
    wait_until("dropped", || coro.in_flight() == 0);
    assert_eq!(count.load(Ordering::SeqCst), 0);
    app.update();
    assert_eq!(count.load(Ordering::SeqCst), 1_000);
}
