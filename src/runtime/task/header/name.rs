//! A task's name and spawn location, for reports and traces.

use std::panic::Location;

use super::Header;

impl Header {
    /// Where the task was spawned.
    pub(crate) fn location(&self) -> &'static Location<'static> {
        self.node.location()
    }

    /// The name given at spawn, if any.
    pub(crate) fn given_name(&self) -> Option<&'static str> {
        self.node.get().and_then(|node| node.site.name)
    }

    /// The task's name: the one given at spawn, else its spawn location.
    pub(crate) fn name(&self) -> TaskName<'_> {
        TaskName(self)
    }

    /// The task's name as a key: `(name, 0)` for a given name, else the
    /// `(file, line)` of its spawn.
    #[cfg(feature = "trace")]
    pub(crate) fn name_key(&self) -> (&'static str, u32) {
        match self.given_name() {
            Some(name) => (name, 0),
            None => (self.location().file(), self.location().line()),
        }
    }
}

/// Displays a task's name without allocating.
pub(crate) struct TaskName<'a>(&'a Header);

impl std::fmt::Display for TaskName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.given_name() {
            Some(name) => f.write_str(name),
            None => {
                let location = self.0.location();
                write!(f, "{}:{}", location.file(), location.line())
            }
        }
    }
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Header")
            .field("affinity", &self.affinity())
            .field("cancelled", &self.is_cancelled())
            .field("local", &self.is_local())
            .field("name", &format_args!("{}", self.name()))
            .finish()
    }
}
