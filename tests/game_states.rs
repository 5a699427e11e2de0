//! Feature `state`: `state_entered`, `state_exited`, and tasks scoped to a
//! state (`in_state`, `spawn_task_in_state`).
#![cfg(feature = "state")]

mod common;

use std::sync::{Arc, Mutex};

use bevy_app::{App, Update};
use bevy_coro::prelude::*;
use bevy_coro::{CoroMode, StateTasks};
use bevy_ecs::prelude::*;
use bevy_state::app::StatesPlugin;
use bevy_state::prelude::*;
use common::*;

#[derive(States, Default, Debug, Clone, PartialEq, Eq, Hash)]
enum Screen {
    #[default]
    Menu,
    Game,
    Pause,
}

fn app_with_states(workers: usize) -> App {
    let mut app = app(workers);
    app.add_plugins(StatesPlugin)
        .init_state::<Screen>()
        .add_coro_state::<Screen>();
    app.update();
    app
}

fn go(app: &mut App, screen: Screen) {
    app.world_mut()
        .resource_mut::<NextState<Screen>>()
        .set(screen);
    app.update();
}

in_each_mode! {
fn entered_and_exited_resolve_at_the_transition(workers = 2) {
    let mut app = app_with_states(workers);
    let coro = coro(&app);
    let mut entered = coro.spawn::<Worker>(state_entered(Screen::Game));
    let mut exited = coro.spawn::<Main>(state_exited(Screen::Menu));
    // Edge-triggered: Menu is the state now, but the wait is for the next entry.
    let mut menu_again = coro.spawn::<Main>(state_entered(Screen::Menu));
    update_until(&mut app, "registered", |app| game_waits(app) == 3);
    for _ in 0..3 {
        app.update();
    }
    assert!(entered.try_take().is_none() && exited.try_take().is_none());
    assert!(menu_again.try_take().is_none(), "being in Menu is not entering it");
    go(&mut app, Screen::Game);
    assert_eq!(run_task(&mut app, entered), Ok(()));
    assert_eq!(run_task(&mut app, exited), Ok(()));
    assert!(menu_again.try_take().is_none());
    go(&mut app, Screen::Menu);
    assert_eq!(run_task(&mut app, menu_again), Ok(()));
    app.update();
    assert_eq!(game_waits(&app), 0);
}
}

/// A scoped task that counts its drops, and the frames it ran.
fn counted(
    drops: &DropCounter,
    runs: Arc<Mutex<u32>>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let token = drops.token();
    async move {
        let _token = token;
        loop {
            *runs.lock().unwrap() += 1;
            next_frame().await;
        }
    }
}

in_each_mode! {
fn an_in_state_task_is_cancelled_once_when_the_state_is_left(workers = 2) {
    let mut app = app_with_states(workers);
    let drops = DropCounter::default();
    let runs = Arc::new(Mutex::new(0));
    coro(&app)
        .task("menu music")
        .in_state(Screen::Menu)
        .spawn::<Main>(counted(&drops, runs.clone()))
        .detach();
    let worker_drops = DropCounter::default();
    coro(&app)
        .task("menu worker")
        .in_state(Screen::Menu)
        .spawn::<Worker>(parked_forever(worker_drops.token()))
        .detach();
    for _ in 0..3 {
        app.update();
    }
    assert_eq!(app.world().resource::<StateTasks<Screen>>().len(&Screen::Menu), 2);
    assert_eq!(drops.count(), 0);
    go(&mut app, Screen::Game);
    update_until(&mut app, "cancelled", |_| drops.count() == 1 && worker_drops.count() == 1);
    let ran = *runs.lock().unwrap();
    // Back in and out again: nothing more to cancel, nothing runs.
    go(&mut app, Screen::Menu);
    go(&mut app, Screen::Game);
    for _ in 0..3 {
        app.update();
    }
    assert_eq!((drops.count(), worker_drops.count()), (1, 1), "cancelled exactly once");
    assert_eq!(*runs.lock().unwrap(), ran);
    assert_eq!(app.world().resource::<StateTasks<Screen>>().len(&Screen::Menu), 0);
}
}

#[test]
fn an_in_state_task_outside_its_state_is_cancelled_at_once() {
    let mut app = app_with_states(1);
    let runs = Arc::new(Mutex::new(0));
    let drops = DropCounter::default();
    let task = coro(&app)
        .task("paused")
        .in_state(Screen::Pause)
        .spawn::<Worker>(counted(&drops, runs.clone()));
    assert_eq!(run_task(&mut app, task), Err(TaskError::Cancelled));
    assert_eq!(drops.count(), 1);
}

#[derive(Resource, Default)]
struct Spawned(bool);

fn spawn_in_game(mut commands: Commands, mut spawned: ResMut<Spawned>, drops: Res<Drops>) {
    if !spawned.0 {
        spawned.0 = true;
        commands.spawn_task_in_state::<Main, _>(Screen::Game, parked_forever(drops.0.token()));
        let entity = commands.spawn_empty().id();
        commands
            .entity(entity)
            .spawn_task_in_state::<Worker, _>(Screen::Game, parked_forever(drops.0.token()));
    }
}

#[derive(Resource)]
struct Drops(DropCounter);

in_each_mode! {
fn commands_spawn_tasks_scoped_to_a_state(workers = 2) {
    let mut app = app_with_states(workers);
    let drops = DropCounter::default();
    app.insert_resource(Drops(drops.clone()))
        .init_resource::<Spawned>()
        .add_systems(OnEnter(Screen::Game), spawn_in_game);
    go(&mut app, Screen::Game);
    for _ in 0..3 {
        app.update();
    }
    assert_eq!(app.world().resource::<StateTasks<Screen>>().len(&Screen::Game), 2);
    assert_eq!(drops.count(), 0);
    go(&mut app, Screen::Pause);
    update_until(&mut app, "cancelled", |_| drops.count() == 2);
    for _ in 0..3 {
        app.update();
    }
    assert_eq!(drops.count(), 2);
}
}

#[test]
fn in_state_without_add_coro_state_panics_naming_it() {
    let mut app = app(1);
    app.add_plugins(StatesPlugin).init_state::<Screen>();
    coro(&app)
        .task("lost")
        .in_state(Screen::Menu)
        .spawn::<Main>(async {})
        .detach();
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| app.update()))
        .expect_err("tying to a state nobody watches panics");
    let text = panic_text(&*panic);
    assert!(text.contains("add_coro_state::<"), "{text}");
    assert!(text.contains("game_states.rs"), "names the spawn: {text}");
}

#[test]
fn a_wait_on_a_state_the_app_lacks_panics_in_its_task() {
    let mut app = app_with_states(1);
    #[derive(States, Default, Debug, Clone, PartialEq, Eq, Hash)]
    struct Never;
    let task = coro(&app).spawn::<Main>(state_entered(Never));
    match run_task(&mut app, task) {
        Err(TaskError::Panicked(message)) => assert!(message.contains("not a state"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn cancelled_waits_leave_nothing_registered() {
    let mut app = app_with_states(1);
    let coro = coro(&app);
    for _ in 0..100 {
        let tasks: Vec<Task<()>> = (0..200)
            .map(|i| match i % 3 {
                0 => coro.spawn::<Main>(state_entered(Screen::Game)),
                1 => coro.spawn::<Worker>(state_exited(Screen::Menu)),
                _ => coro.spawn::<Main>(state_entered(Screen::Pause)),
            })
            .collect();
        update_until(&mut app, "registered", |app| game_waits(app) == 200);
        drop(tasks);
        update_until(&mut app, "let go", |app| game_waits(app) == 0);
    }
}

#[derive(Resource, Default)]
struct Frame(u32);

fn walk_screens(mut frame: ResMut<Frame>, mut next: ResMut<NextState<Screen>>) {
    frame.0 += 1;
    match frame.0 % 3 {
        0 => next.set(Screen::Game),
        1 => next.set(Screen::Pause),
        _ => next.set(Screen::Menu),
    }
}

/// Worker tasks waiting on transitions the game walks through: the order in
/// which they resume.
fn replay(seed: u64) -> Vec<u32> {
    let mut app = App::new();
    app.add_plugins((
        CoroPlugin {
            mode: CoroMode::Deterministic {
                seed,
                panic_on_deadlock: true,
            },
            ..Default::default()
        },
        StatesPlugin,
    ))
    .init_state::<Screen>()
    .add_coro_state::<Screen>()
    .init_resource::<Frame>()
    .add_systems(Update, walk_screens);
    let order = Arc::new(Mutex::new(Vec::new()));
    let coro = coro(&app);
    for i in 0..30u32 {
        let order = order.clone();
        let screen = [Screen::Menu, Screen::Game, Screen::Pause][i as usize % 3].clone();
        coro.spawn::<Worker>(async move {
            for _ in 0..4 {
                state_entered(screen.clone()).await;
                order.lock().unwrap().push(i);
                state_exited(screen.clone()).await;
                order.lock().unwrap().push(100 + i);
            }
        })
        .detach();
    }
    for _ in 0..60 {
        app.update();
    }
    let order = order.lock().unwrap().clone();
    assert_eq!(order.len(), 30 * 8, "every task saw its four visits");
    order
}

#[test]
fn a_seed_replays_the_same_order() {
    assert_eq!(replay(11), replay(11));
}
