//! A turn: the task that handles an actor's messages, one at a time, at
//! most a batch of them before it yields, and ends when the queue is empty.

use std::future::poll_fn;
use std::pin::pin;
use std::sync::Arc;

use super::behavior::Behavior;
use super::error::ActorError;
use super::mailbox::{Envelope, Mailbox, OnPanic, Post};
use crate::runtime::task::options::Options;
use crate::runtime::task::{Parent, catch_poll, spawn_send_in};
use crate::runtime::tree::Node;
use crate::runtime::yields::yield_now;

/// Spawns a turn that owns `state` until the queue runs dry; under
/// `parent` (the actor's scope) or as a root: a turn belongs to the actor,
/// not to the task that happened to send the message, so cancelling a
/// sender does not stop the actor.
pub(crate) fn spawn<B, M, R>(mailbox: Arc<Mailbox<B, M, R>>, state: B, parent: Option<&Arc<Node>>)
where
    B: Behavior<M, R>,
    M: Send + 'static,
    R: Send + 'static,
{
    let turns = &mailbox.turns;
    let (shared, side, location) = (turns.shared.clone(), turns.side, turns.location);
    let options = Options {
        name: Some(turns.name),
        priority: turns.priority,
        cores: 0,
    };
    let parent = parent.map_or(Parent::Root, Parent::Node);
    // The guard is made out here, so a turn dropped before its first poll
    // (refused at shutdown, cancelled with its entity) still stops the
    // actor rather than leave it marked running for good.
    let guard = Unfinished {
        mailbox,
        finished: false,
    };
    spawn_send_in(&shared, side, options, location, parent, run(guard, state)).detach();
}

/// Stops the actor if the turn is dropped before it ends.
struct Unfinished<B, M, R>
where
    B: Behavior<M, R>,
    M: Send + 'static,
    R: Send + 'static,
{
    mailbox: Arc<Mailbox<B, M, R>>,
    finished: bool,
}

impl<B, M, R> Drop for Unfinished<B, M, R>
where
    B: Behavior<M, R>,
    M: Send + 'static,
    R: Send + 'static,
{
    fn drop(&mut self) {
        if !self.finished {
            self.mailbox.abandoned();
        }
    }
}

async fn run<B, M, R>(mut guard: Unfinished<B, M, R>, state: B)
where
    B: Behavior<M, R>,
    M: Send + 'static,
    R: Send + 'static,
{
    serve(&guard.mailbox, state).await;
    guard.finished = true;
}

/// Handles messages until the queue is empty.
async fn serve<B, M, R>(mailbox: &Mailbox<B, M, R>, state: B)
where
    B: Behavior<M, R>,
    M: Send + 'static,
    R: Send + 'static,
{
    let mut state = Some(state);
    loop {
        for _ in 0..mailbox.turns.batch {
            let Some(envelope) = mailbox.next(&mut state) else {
                // The queue is empty: the state went back (or, stopped, it
                // is dropped here with `state`).
                return;
            };
            let behavior = state.as_mut().expect("a running turn owns the state");
            handle(mailbox, behavior, envelope).await;
        }
        if mailbox.has_next() {
            // A batch done and more waiting: other tasks go first. On the
            // main thread this is the next frame.
            yield_now().await;
        }
    }
}

/// Handles one message, catching a panic of the handler.
async fn handle<B, M, R>(mailbox: &Mailbox<B, M, R>, behavior: &mut B, envelope: Envelope<M, R>)
where
    B: Behavior<M, R>,
    M: Send + 'static,
    R: Send + 'static,
{
    let Envelope { msg, reply } = envelope;
    let mut handler = pin!(behavior.handle(msg));
    match poll_fn(|cx| catch_poll(handler.as_mut(), cx)).await {
        Ok(answer) => {
            if let Some(reply) = reply {
                reply.send(answer);
            }
        }
        Err(message) => {
            // Reported: the panic hook has printed it, the runtime's stats
            // count it, an ask gets it.
            mailbox.turns.shared.counters.panic();
            if let Some(reply) = reply {
                reply.fail(ActorError::Panicked(message));
            }
            if mailbox.turns.on_panic == OnPanic::Stop {
                drop(mailbox.stop_now());
            }
        }
    }
}
