//! Recipes that are one simple command run without a shell, as GNU make runs them.
//!
//! `sh -c 'cp a b'` costs a second program start (the shell's own `execve` and dynamic
//! linking, about as much as `cp` itself): most recipes are one program with literal
//! arguments, and for those the shell does nothing but find the program in `PATH` and open one
//! output redirection. [`parse`] recognises exactly that subset of the shell language and
//! refuses everything else, so a recipe runs directly only when `sh -c` would do the same thing:
//!
//! - words made of the characters `A-Z a-z 0-9 / . _ - + @ % : , =`, single-quoted strings,
//!   double-quoted strings without `$`, `` ` `` or `\`, and backslash escapes, separated by
//!   blanks;
//! - at most one `> word` redirection, at the end;
//! - a first word that is neither a shell keyword nor a builtin of `dash` or `bash` (an `echo`
//!   must stay the shell's), nor an assignment (`A=b cmd`).
//!
//! Anything else (variables, globs, pipes, lists, other redirections, comments, `~`) goes to
//! `sh -c`, and so does a simple command whose program is not found in `PATH` or cannot be
//! started: the shell then prints its own message and exit status.
//! `PARITY_SHELL=always` sends every recipe to `sh -c` (to check a doubt; the key does not
//! change, since the outputs must not).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The environment variable that, set to `always`, runs every recipe with `sh -c`.
pub const SHELL_ENV: &str = "PARITY_SHELL";

/// A recipe the shell would run as one program with literal arguments.
#[derive(Debug, PartialEq, Eq)]
pub struct Simple {
    /// The program as written, then its arguments, unquoted.
    pub argv: Vec<String>,
    /// The file named by a final `> word`, relative to the working directory.
    pub stdout: Option<String>,
}

/// Shell keywords and the builtins of `dash` and `bash`: a first word among these is run by
/// the shell, whose `echo` or `test` may differ from the program of the same name.
const SHELL_WORDS: &[&str] = &[
    "!",
    "{",
    "}",
    "[[",
    "]]",
    "case",
    "do",
    "done",
    "elif",
    "else",
    "esac",
    "fi",
    "for",
    "function",
    "if",
    "in",
    "select",
    "then",
    "time",
    "until",
    "while",
    ".",
    ":",
    "[",
    "alias",
    "bg",
    "bind",
    "break",
    "builtin",
    "caller",
    "cd",
    "chdir",
    "command",
    "compgen",
    "complete",
    "compopt",
    "continue",
    "declare",
    "dirs",
    "disown",
    "echo",
    "enable",
    "eval",
    "exec",
    "exit",
    "export",
    "false",
    "fc",
    "fg",
    "getopts",
    "hash",
    "help",
    "history",
    "jobs",
    "kill",
    "let",
    "local",
    "logout",
    "mapfile",
    "popd",
    "printf",
    "pushd",
    "pwd",
    "read",
    "readarray",
    "readonly",
    "return",
    "set",
    "shift",
    "shopt",
    "source",
    "suspend",
    "test",
    "times",
    "trap",
    "true",
    "type",
    "typeset",
    "ulimit",
    "umask",
    "unalias",
    "unset",
    "wait",
];

/// Whether every recipe must go through `sh -c` ([`SHELL_ENV`]).
pub fn shell_always() -> bool {
    static ALWAYS: OnceLock<bool> = OnceLock::new();
    *ALWAYS.get_or_init(|| std::env::var(SHELL_ENV).is_ok_and(|v| v == "always"))
}

/// `script` as a simple command, or `None` when only a shell can run it as written.
pub fn parse(script: &str) -> Option<Simple> {
    let mut words = Words::default();
    let mut chars = script.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => words.end()?,
            '>' => {
                // `2>`, `a>b`, `>>`, `>|`, `>&` and a second redirection are left to the shell.
                if words.word.is_some() || words.redirect {
                    return None;
                }
                words.redirect = true;
                match chars.clone().next() {
                    Some(' ' | '\t') | None => {}
                    Some(c) if plain(c) || "'\"\\".contains(c) => {}
                    Some(_) => return None,
                }
            }
            '\'' => {
                words.word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => words.push(c),
                    }
                }
            }
            '"' => {
                words.word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '"' => break,
                        '$' | '`' | '\\' => return None,
                        c => words.push(c),
                    }
                }
            }
            '\\' => match chars.next()? {
                '\n' => return None,
                c => words.push(c),
            },
            '=' => {
                words.assigns = true;
                words.push(c);
            }
            c if plain(c) => words.push(c),
            _ => return None,
        }
    }
    words.end()?;
    let Words {
        argv,
        stdout,
        redirect,
        ..
    } = words;
    if redirect && stdout.is_none() {
        return None;
    }
    let name = argv.first()?;
    if name.is_empty() || SHELL_WORDS.contains(&name.as_str()) {
        return None;
    }
    Some(Simple { argv, stdout })
}

/// A character that stands for itself anywhere in a word.
fn plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/._-+@%:,".contains(c)
}

/// [`parse`]'s state.
#[derive(Default)]
struct Words {
    argv: Vec<String>,
    stdout: Option<String>,
    /// The word being read, once one started (`''` starts an empty one).
    word: Option<String>,
    /// Whether that word holds an unquoted `=` (an assignment, when it comes first).
    assigns: bool,
    /// Whether a `>` was read: the next word is its file.
    redirect: bool,
}

impl Words {
    fn push(&mut self, c: char) {
        self.word.get_or_insert_with(String::new).push(c);
    }

    /// Ends the word being read; `None` when it makes the command not simple.
    fn end(&mut self) -> Option<()> {
        let assigns = std::mem::take(&mut self.assigns);
        let Some(w) = self.word.take() else {
            return Some(());
        };
        if self.stdout.is_some() || (self.argv.is_empty() && assigns && !self.redirect) {
            return None;
        }
        if self.redirect {
            self.stdout = Some(w);
        } else {
            self.argv.push(w);
        }
        Some(())
    }
}

/// The program `name` as the shell would find it with `PATH=path`: `name` itself when it
/// holds a `/` (relative to `cwd`), else the first executable `dir/name` of `path`. `None`
/// when a `PATH` entry is relative or empty (the shell would look in its working directory)
/// before one is found, or when none is: the shell is then left to say so.
pub fn resolve(name: &str, path: &str, cwd: &Path) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(cwd.join(name));
    }
    static FOUND: Mutex<BTreeMap<(String, String), Option<PathBuf>>> = Mutex::new(BTreeMap::new());
    let key = (path.to_string(), name.to_string());
    if let Some(found) = FOUND.lock().ok()?.get(&key) {
        return found.clone();
    }
    let mut found = None;
    for dir in path.split(':') {
        if !dir.starts_with('/') {
            break;
        }
        let candidate = Path::new(dir).join(name);
        if executable(&candidate) {
            found = Some(candidate);
            break;
        }
    }
    FOUND.lock().ok()?.insert(key, found.clone());
    found
}

#[cfg(unix)]
fn executable(path: &Path) -> bool {
    path.is_file() && rustix::fs::access(path, rustix::fs::Access::EXEC_OK).is_ok()
}

#[cfg(not(unix))]
fn executable(_: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simple(argv: &[&str], stdout: Option<&str>) -> Option<Simple> {
        Some(Simple {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            stdout: stdout.map(String::from),
        })
    }

    #[test]
    fn words_quotes_and_one_final_redirection_are_simple() {
        assert_eq!(parse("cp a b"), simple(&["cp", "a", "b"], None));
        assert_eq!(
            parse("cat src/x.txt 'a b'\\''c' > ../out/0-y.json"),
            simple(&["cat", "src/x.txt", "a b'c"], Some("../out/0-y.json"))
        );
        assert_eq!(
            parse("  sort -o \"o u\" --key=2 in\t"),
            simple(&["sort", "-o", "o u", "--key=2", "in"], None)
        );
        assert_eq!(parse("cat a >b"), simple(&["cat", "a"], Some("b")));
        assert_eq!(parse("x ''"), simple(&["x", ""], None));
    }

    #[test]
    fn anything_a_shell_would_interpret_is_left_to_it() {
        for script in [
            "",
            "   ",
            "echo hi",
            "test -f a",
            "A=b cp a b",
            "cp $HOME b",
            "cp a* b",
            "cp a b; rm a",
            "cp a b && rm a",
            "cat a | wc",
            "cat a 2> e",
            "cat a >> b",
            "cat a > b c",
            "cat a > b > c",
            "cat a >",
            "cat a >&2",
            "cat < a",
            "cp ~/a b",
            "cp a b # c",
            "cp \"$x\" b",
            "cp 'a b",
            "cp a\\\nb c",
            "(cp a b)",
            "cp a b\nrm a",
            "''",
            "if true",
        ] {
            assert_eq!(parse(script), None, "{script:?}");
        }
    }

    #[test]
    fn programs_are_found_in_absolute_path_entries_only() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path();
        assert_eq!(resolve("./x", "/nowhere", cwd), Some(cwd.join("./x")));
        assert_eq!(resolve("sh", "/nowhere:/bin", cwd), Some("/bin/sh".into()));
        assert_eq!(resolve("sh", "bin:/bin", cwd), None);
        assert_eq!(resolve("no-such-program-here", "/bin:/usr/bin", cwd), None);
    }
}
