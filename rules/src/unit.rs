//! The unit of CLI parity: a command, or a flag or positional arg of a command. Snapshots,
//! unions, wrapper coverage, reports, exclusions and the validator all name units the same way
//! (a command path, plus a flag `key` or an arg `name`), so code that treats flags and args
//! alike iterates [`UnitKind::MEMBERS`] once instead of writing a loop for each.

use crate::common::display_path;

/// Which kind of unit an identity names (ordering: commands, then flags, then args).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UnitKind {
    /// A command (identity: its path).
    Command,
    /// A flag of a command (identity: path + `key`, the long form else the short).
    Flag,
    /// A positional arg of a command (identity: path + `name`).
    Arg,
}

impl UnitKind {
    /// The kinds that belong to a command: flags, then args.
    pub const MEMBERS: [UnitKind; 2] = [UnitKind::Flag, UnitKind::Arg];

    /// `command`, `flag` or `arg`.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Command => "command",
            UnitKind::Flag => "flag",
            UnitKind::Arg => "arg",
        }
    }

    /// The kind named `command`, `flag` or `arg`.
    pub fn parse(s: &str) -> Option<UnitKind> {
        match s {
            "command" => Some(UnitKind::Command),
            "flag" => Some(UnitKind::Flag),
            "arg" => Some(UnitKind::Arg),
            _ => None,
        }
    }

    /// The JSON field holding a member's identity: `key` (flags) or `name` (args).
    pub fn id_field(self) -> &'static str {
        match self {
            UnitKind::Flag => "key",
            UnitKind::Arg | UnitKind::Command => "name",
        }
    }

    /// The JSON list of a command holding members of this kind: `flags` or `args`.
    pub fn list_field(self) -> &'static str {
        match self {
            UnitKind::Flag => "flags",
            UnitKind::Arg | UnitKind::Command => "args",
        }
    }
}

/// A borrowed unit identity, for lookups and messages: `path=<p>`, `path=<p> key=<k>`,
/// `path=<p> name=<n>`.
#[derive(Debug, Clone, Copy)]
pub struct UnitRef<'a> {
    /// Kind.
    pub kind: UnitKind,
    /// Command path.
    pub path: &'a [String],
    /// Flag key or arg name (`None` for a command).
    pub id: Option<&'a str>,
}

impl UnitRef<'_> {
    /// The owned identity.
    pub fn key(&self) -> UnitKey {
        UnitKey {
            kind: self.kind,
            path: self.path.to_vec(),
            id: self.id.unwrap_or_default().to_string(),
        }
    }
}

impl std::fmt::Display for UnitRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "path={}", display_path(self.path))?;
        match (self.kind, self.id) {
            (UnitKind::Command, _) | (_, None) => Ok(()),
            (kind, Some(id)) => write!(f, " {}={id}", kind.id_field()),
        }
    }
}

/// An owned unit identity, the key of every map of units: ordered by kind, path, then id
/// (empty for commands).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnitKey {
    /// Kind.
    pub kind: UnitKind,
    /// Command path.
    pub path: Vec<String>,
    /// Flag key or arg name; empty for a command.
    pub id: String,
}

impl UnitKey {
    /// The identity of the command at `path`.
    pub fn command(path: &[String]) -> UnitKey {
        UnitKey {
            kind: UnitKind::Command,
            path: path.to_vec(),
            id: String::new(),
        }
    }

    /// The identity of a flag (by key) or arg (by name) of the command at `path`.
    pub fn member(kind: UnitKind, path: &[String], id: &str) -> UnitKey {
        UnitKey {
            kind,
            path: path.to_vec(),
            id: id.to_string(),
        }
    }

    /// The borrowed form.
    pub fn unit_ref(&self) -> UnitRef<'_> {
        UnitRef {
            kind: self.kind,
            path: &self.path,
            id: (self.kind != UnitKind::Command).then_some(self.id.as_str()),
        }
    }
}
