//! Frame points: [`resume_in`] lets a main-thread task resume in another
//! schedule than the pump's (`FixedUpdate`, `PostUpdate`, ...), served by an
//! extra pump the plugin adds there for each schedule in
//! [`CoroPlugin::resume_points`](crate::CoroPlugin::resume_points).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bevy_app::App;
use bevy_ecs::prelude::*;
use bevy_ecs::schedule::{InternedScheduleLabel, ScheduleLabel};

use crate::bevy::plugin::{CoroScheduler, CoroSystems};
use crate::bevy::world;
use crate::runtime::Runtime;
use crate::runtime::points::ResumeAt;

/// Resumes the task in the next run of `schedule`'s resume point, on the
/// main thread, with the World at hand as in the pump. The schedule must be
/// one of [`CoroPlugin::resume_points`](crate::CoroPlugin::resume_points):
/// the plugin runs an extra pump there, in [`CoroSystems::ResumePoint`],
/// which runs only the tasks that asked for it, within
/// [`main_budget`](crate::CoroPlugin::main_budget) (a budget of its own per
/// run; what is left runs at the next run, first).
///
/// ```
/// # use bevy_app::{App, PostUpdate};
/// # use bevy_ecs::prelude::*;
/// # use bevy_ecs::schedule::ScheduleLabel;
/// # use bevy_coro::prelude::*;
/// #[derive(Resource, Default)]
/// struct Moved(bool);
///
/// let mut app = App::new();
/// app.add_plugins(CoroPlugin {
///     workers: 1,
///     resume_points: vec![PostUpdate.intern()],
///     ..Default::default()
/// });
/// app.init_resource::<Moved>();
/// let coro = app.world().resource::<Coro>().clone();
/// let mut task = coro.spawn::<Main>(async {
///     // In the pump (PreUpdate)...
///     resume_in(PostUpdate).await;
///     // ...and now in PostUpdate of the same frame, after Update's systems.
///     with_world(|world| world.resource::<Moved>().0).await
/// });
/// app.add_systems(bevy_app::Update, |mut moved: ResMut<Moved>| moved.0 = true);
/// app.update();
/// assert_eq!(task.try_take(), Some(Ok(true)));
/// ```
///
/// - **Which run:** the first run of the point that starts after the call.
///   From the pump, a point later in the frame runs the task in the same
///   frame; a point earlier in the frame (`First`), in the next. A task
///   resumed at a point that asks for the same point again waits for its
///   next run. A schedule that runs several times a frame (`FixedUpdate`)
///   runs its point each time: the task resumes in the first fixed step
///   after the call (maybe later in the same frame), and in none while the
///   fixed loop runs no step. A point that never runs keeps its tasks
///   waiting (a cancel still ends them, at the next pump).
/// - **After resuming** the task is an ordinary main-thread task: its next
///   `yield_now()`/`next_frame()` resumes in the pump, its next wake runs in
///   the pump, and awaiting `resume_in` again picks the next point.
/// - **From a worker task** this is a hop: the task resumes at the point
///   on the main thread and stays on the main thread (hop back with
///   [`.on::<Worker>()`](crate::CoroFutureExt::on)).
/// - **While it waits** other wakes of the task (a `timeout` around it, a
///   sibling branch of a `select!` in the task) run it where it runs
///   anyway; a `timeout` or `select!` can give up on the wait. A task still
///   in such a poll when the point runs waits for the point's next run.
///   The poll at the point polls the whole task, sibling branches included,
///   on the main thread.
/// - **Cancel** while waiting: the task ends in the next pump (a worker
///   task, on a worker), and nothing stays at the point.
///
/// # Panics
///
/// When awaited outside a bevy_coro task, and when `schedule` has no resume
/// point (it is not in `CoroPlugin::resume_points`).
pub fn resume_in(schedule: impl ScheduleLabel) -> ResumeIn {
    ResumeIn(ResumeAt::new(schedule.intern(), not_a_resume_point))
}

/// The future returned by [`resume_in`].
#[must_use = "futures do nothing unless awaited"]
pub struct ResumeIn(ResumeAt<InternedScheduleLabel>);

impl Future for ResumeIn {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl std::fmt::Debug for ResumeIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResumeIn").finish_non_exhaustive()
    }
}

#[cold]
fn not_a_resume_point(schedule: &InternedScheduleLabel) -> ! {
    panic!(
        "bevy_coro: `resume_in({schedule:?})`: the plugin has no resume point in {schedule:?}; \
         add it to `CoroPlugin::resume_points` (e.g. `resume_points: vec![{schedule:?}.intern()]`)"
    )
}

/// Sets up the resume points of `schedules` (duplicates count once): one
/// per schedule in the runtime, and its pump system in that schedule.
pub(crate) fn add_resume_points(
    app: &mut App,
    runtime: &Runtime,
    schedules: &[InternedScheduleLabel],
) {
    let mut points: Vec<InternedScheduleLabel> = Vec::new();
    for &schedule in schedules {
        if !points.contains(&schedule) {
            points.push(schedule);
        }
    }
    runtime.handle().shared.set_resume_points(
        points
            .iter()
            .map(|&schedule| Box::new(schedule) as Box<dyn std::any::Any + Send + Sync>)
            .collect(),
    );
    for (index, schedule) in points.into_iter().enumerate() {
        app.add_systems(
            schedule,
            (move |world: &mut World| pump_point(world, index))
                .in_set(CoroSystems::ResumePoint)
                .after(CoroSystems::Pump),
        );
    }
}

/// A resume point's pump system: lends the World, as the pump does, to the
/// tasks that asked for this point, and runs them.
fn pump_point(world: &mut World, index: usize) {
    let Some(scheduler) = world.get_resource::<CoroScheduler>() else {
        return;
    };
    let (handle, budget) = (scheduler.runtime().handle().clone(), scheduler.main_budget);
    let now = crate::runtime::Instant::now();
    world::lend(world, || handle.shared.pump_point(index, now, budget));
}
