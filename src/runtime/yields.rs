//! Awaitables that give the thread back: [`yield_now`] and [`next_frame`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::runtime::task::context::with_current_task;
use crate::runtime::task::options::Side;

/// Gives the thread back once. On a worker the task goes to the back of the
/// queue; on the main thread it resumes in the **next frame**, like a game
/// coroutine's `yield`. Outside a bevy_coro task it is a plain yield.
pub fn yield_now() -> YieldNow {
    YieldNow { frame: None }
}

/// The future returned by [`yield_now`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct YieldNow {
    /// `None` before the first poll; then `Some(Some(frame))` for a main-thread
    /// yield made in `frame`, `Some(None)` for a plain one.
    frame: Option<Option<u64>>,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.frame {
            None => {
                let frame = with_current_task(|task| {
                    task.filter(|task| task.affinity() == Side::Main)
                        .map(|task| task.shared.main.frame())
                });
                self.frame = Some(frame);
                // On the main thread, a self-wake during the pump is served in
                // the next one (see `main_queue`).
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Some(None) => Poll::Ready(()),
            Some(Some(frame)) => wait_for_frame_after(frame, cx),
        }
    }
}

/// Waits until the next frame's pump has started: on the main thread, the task
/// resumes in the next frame; on a worker, once the main thread has begun its
/// next pump.
///
/// # Panics
///
/// When awaited outside a bevy_coro task (there is no frame to wait for).
pub fn next_frame() -> NextFrame {
    NextFrame { frame: None }
}

/// The future returned by [`next_frame`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct NextFrame {
    frame: Option<u64>,
}

impl Future for NextFrame {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let frame = *self.frame.get_or_insert_with(|| {
            with_current_task(|task| {
                task.expect("bevy_coro: `next_frame()` was awaited outside a bevy_coro task")
                    .shared
                    .main
                    .frame()
            })
        });
        wait_for_frame_after(frame, cx)
    }
}

/// Ready once a pump after `frame` has started; otherwise arranges a wake for it.
fn wait_for_frame_after(frame: u64, cx: &mut Context<'_>) -> Poll<()> {
    with_current_task(|task| {
        let Some(task) = task else {
            return Poll::Ready(());
        };
        let main = &task.shared.main;
        if main.frame() > frame {
            return Poll::Ready(());
        }
        if task.affinity() == Side::Main {
            // Polled in the pump: a self-wake lands in the next frame.
            cx.waker().wake_by_ref();
        } else if !main.wake_next_frame(cx.waker().clone()) || main.frame() > frame {
            // The scheduler is closed (there is no next frame to wait for), or
            // the pump started while we registered: the waker left behind only
            // costs a spurious wake.
            return Poll::Ready(());
        }
        Poll::Pending
    })
}
