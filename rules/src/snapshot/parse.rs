//! Help-text parsing and usage inference, as the reference does it (spec §1.6, §1.7),
//! weak spots included (spec §11.1 items 2–5): the bytes of committed snapshots depend on them.

use super::Cli;
pub use super::model::{ArgEntry, FlagEntry};

/// What one help text says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedHelp {
    pub about: Option<String>,
    pub usage: Option<String>,
    /// Subcommand tokens in help order.
    pub subcommands: Vec<String>,
    pub flags: Vec<FlagEntry>,
    pub args: Vec<ArgEntry>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Commands,
    Options,
    Arguments,
}

/// Parses a normalized help text (spec §1.6; claude spec §1.6): the same line scanner for
/// both CLIs, with each CLI's rule for the lines of a Commands section.
pub fn parse_help(text: &str, cli: Cli) -> ParsedHelp {
    let lines: Vec<&str> = text.lines().collect();
    let usage_idx = lines.iter().position(|l| is_usage_line(l));
    let mut help = ParsedHelp {
        about: parse_about(&lines, usage_idx),
        usage: usage_idx.and_then(|i| parse_usage(&lines, i)),
        ..ParsedHelp::default()
    };
    let mut section = Section::None;
    for line in lines.iter().filter(|l| !l.trim().is_empty()) {
        if let Some(s) = section_header(line) {
            section = s;
            continue;
        }
        match section {
            Section::None => {}
            Section::Commands => help.subcommands.extend(match cli {
                Cli::Codex => parse_command_token(line),
                Cli::Claude => parse_claude_command_token(line),
            }),
            Section::Options => help.flags.extend(parse_flag(line)),
            Section::Arguments => match parse_argument(line) {
                Some(arg) => help.args.push(arg),
                None => append_note(help.args.last_mut(), line.trim()),
            },
        }
    }
    help
}

fn is_usage_line(line: &str) -> bool {
    line.trim_start().to_ascii_lowercase().starts_with("usage:")
}

fn parse_usage(lines: &[&str], idx: usize) -> Option<String> {
    let mut out = Vec::new();
    let first = lines[idx].trim_start()[6..].trim();
    if !first.is_empty() {
        out.push(first);
    }
    for line in &lines[idx + 1..] {
        let starts_indented = line.starts_with(' ') || line.starts_with('\t');
        if line.trim().is_empty() || !starts_indented || is_colon_header(line.trim()) {
            break;
        }
        out.push(line.trim());
    }
    (!out.is_empty()).then(|| out.join("\n"))
}

fn is_colon_header(trimmed: &str) -> bool {
    trimmed.ends_with(':')
        && matches!(
            trimmed.trim_end_matches(':').to_ascii_lowercase().as_str(),
            "commands" | "subcommands" | "options" | "flags" | "arguments"
        )
}

fn parse_about(lines: &[&str], usage_idx: Option<usize>) -> Option<String> {
    let title = lines.iter().position(|l| !l.trim().is_empty())?;
    let end = usage_idx.unwrap_or(lines.len());
    if title + 1 >= end {
        return None;
    }
    let about: Vec<&str> = lines[title + 1..end]
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    (!about.is_empty()).then(|| about.join("\n"))
}

fn section_header(line: &str) -> Option<Section> {
    match line
        .trim()
        .trim_end_matches(':')
        .to_ascii_lowercase()
        .as_str()
    {
        "commands" | "subcommands" => Some(Section::Commands),
        "options" | "flags" => Some(Section::Options),
        "arguments" => Some(Section::Arguments),
        _ => None,
    }
}

fn indented(line: &str) -> bool {
    line.starts_with(' ') || line.starts_with('\t')
}

/// Head (before the first double space, right-trimmed) and description (the rest, trimmed).
pub fn split_tokens_and_desc(s: &str) -> (&str, &str) {
    match s.find("  ") {
        Some(i) => (s[..i].trim_end(), s[i..].trim()),
        None => (s.trim_end(), ""),
    }
}

/// A subcommand token from a Commands-section line (codex rule).
pub fn parse_command_token(line: &str) -> Option<String> {
    let trimmed = line.trim();
    if !indented(line) || trimmed.starts_with('-') {
        return None;
    }
    let (head, desc) = split_tokens_and_desc(trimmed);
    let token = head.split_whitespace().next()?;
    if desc.is_empty() && head != token {
        return None;
    }
    let charset = token
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    charset.then(|| token.to_string())
}

/// A subcommand token from a Commands-section line of Claude Code's (Commander) help: the
/// head must be one word (so an entry showing its arguments, `add [options] <name>`, is not a
/// token: a reference quirk, claude spec §9 B2), its first `|` alias is the token, `help` and
/// `claude` are skipped, and a one-word line without description is a token too (a wrapped
/// description's last word: claude spec §9 B1).
pub fn parse_claude_command_token(line: &str) -> Option<String> {
    let trimmed = line.trim();
    if !indented(line) || trimmed.starts_with('-') {
        return None;
    }
    let (head, desc) = split_tokens_and_desc(trimmed);
    if head.split_whitespace().count() != 1 {
        return None;
    }
    let token = head.split('|').next().unwrap_or(head);
    if token == "help" || token == "claude" || (desc.is_empty() && head.trim() != token) {
        return None;
    }
    let charset = token
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    charset.then(|| token.to_string())
}

/// A flag from an Options-section line.
pub fn parse_flag(line: &str) -> Option<FlagEntry> {
    let trimmed = line.trim();
    if !indented(line) || !trimmed.starts_with('-') {
        return None;
    }
    let (head, _) = split_tokens_and_desc(trimmed);
    let mut flag = FlagEntry::default();
    for raw in head.split_whitespace() {
        let tok = raw.trim_end_matches(',').trim();
        if let Some(rest) = tok.strip_prefix("--") {
            let valid =
                !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if flag.long.is_none() && valid {
                flag.long = Some(tok.to_string());
            }
        } else if tok.starts_with('-') {
            let mut chars = tok.chars();
            let second = chars.nth(1);
            let is_short =
                tok.chars().count() == 2 && second.is_some_and(|c| c.is_ascii_alphanumeric());
            if flag.short.is_none() && is_short {
                flag.short = Some(tok.to_string());
            }
        } else if flag.value_name.is_none() {
            parse_value_name(tok, &mut flag);
        }
    }
    if flag.long.is_none() && flag.short.is_none() {
        return None;
    }
    flag.takes_value = flag.value_name.is_some();
    Some(flag)
}

fn parse_value_name(tok: &str, flag: &mut FlagEntry) {
    if tok.starts_with('<') {
        if let Some(end) = tok.find('>').filter(|&end| end >= 2) {
            flag.value_name = Some(tok[1..end].to_string());
            if tok[end + 1..].contains("...") {
                flag.repeatable = Some(true);
            }
        }
    } else if !tok.is_empty() && tok.chars().all(is_upper_name_char) {
        flag.value_name = Some(tok.to_string());
    }
}

fn is_upper_name_char(c: char) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '-'
}

/// A positional argument from an Arguments-section line.
pub fn parse_argument(line: &str) -> Option<ArgEntry> {
    let trimmed = line.trim();
    if !indented(line) || trimmed.starts_with('-') {
        return None;
    }
    let (head, desc) = split_tokens_and_desc(trimmed);
    let mut token = head.split_whitespace().next()?;
    let mut variadic = false;
    if let Some(t) = token.strip_suffix("...") {
        token = t;
        variadic = true;
    }
    let (mut name, required) = if let Some(inner) = bracketed(token, '<', '>') {
        (inner, true)
    } else if let Some(inner) = bracketed(token, '[', ']') {
        (inner, false)
    } else if token.chars().all(is_upper_name_char) {
        (token, false)
    } else {
        return None;
    };
    if let Some(n) = name.strip_suffix("...") {
        name = n;
        variadic = true;
    }
    if name.is_empty() {
        return None;
    }
    Some(ArgEntry {
        name: name.to_string(),
        required,
        variadic,
        note: (!desc.is_empty()).then(|| desc.to_string()),
    })
}

/// `token` without all its leading `open` and trailing `close` characters, when it starts
/// with one and ends with the other (`<<X>>` -> `X`, as the reference trims).
fn bracketed(token: &str, open: char, close: char) -> Option<&str> {
    (token.starts_with(open) && token.ends_with(close))
        .then(|| token.trim_start_matches(open).trim_end_matches(close))
}

fn append_note(arg: Option<&mut ArgEntry>, text: &str) {
    if let Some(arg) = arg {
        arg.note = Some(match arg.note.take() {
            Some(note) => format!("{note}\n{text}"),
            None => text.to_string(),
        });
    }
}

/// Positional args inferred from the usage lines of the command at `path` (spec §1.7).
pub fn infer_usage_args(usage: &str, path: &[String], has_subcommands: bool) -> Vec<ArgEntry> {
    let mut out: Vec<ArgEntry> = Vec::new();
    for line in usage.lines() {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let Some(rest) = skip_command_path(&tokens, path) else {
            continue;
        };
        for arg in usage_line_args(rest, has_subcommands) {
            if !out.iter().any(|a| a.name == arg.name) {
                out.push(arg);
            }
        }
    }
    out
}

fn skip_command_path<'a>(tokens: &'a [&'a str], path: &[String]) -> Option<&'a [&'a str]> {
    if tokens.is_empty() {
        return None;
    }
    let mut rest = if tokens[0] == "codex" {
        &tokens[1..]
    } else {
        tokens
    };
    for token in path {
        let (first, tail) = rest.split_first()?;
        if first != token {
            return None;
        }
        rest = tail;
    }
    Some(rest)
}

fn usage_line_args(tokens: &[&str], has_subcommands: bool) -> Vec<ArgEntry> {
    let mut out = Vec::new();
    let mut prev_flag = false;
    let mut after_dd = false;
    for raw in tokens {
        let tok = raw.trim_matches(|c| c == '(' || c == ')' || c == '|');
        if tok.is_empty() {
            continue;
        }
        if !after_dd {
            if tok == "--" {
                after_dd = true;
                continue;
            }
            if tok.starts_with('-') || tok.contains("--") {
                prev_flag = true;
                continue;
            }
            if prev_flag {
                prev_flag = false;
                continue;
            }
        }
        if is_options_token(tok) {
            continue;
        }
        if let Some(arg) = usage_arg(tok)
            && !(has_subcommands && (arg.name == "COMMAND" || arg.name == "ARGS"))
        {
            out.push(arg);
        }
    }
    out
}

fn is_options_token(tok: &str) -> bool {
    tok.eq_ignore_ascii_case("[options]") || tok.eq_ignore_ascii_case("options")
}

fn usage_arg(tok: &str) -> Option<ArgEntry> {
    let mut tok = tok.trim_matches(',');
    let mut variadic = false;
    if let Some(t) = tok.strip_suffix("...") {
        tok = t;
        variadic = true;
    }
    if tok == "[OPTIONS]" || tok.eq_ignore_ascii_case("options") {
        return None;
    }
    let (name, required) = if let Some(inner) = bracketed(tok, '<', '>') {
        (inner, true)
    } else {
        (bracketed(tok, '[', ']')?, false)
    };
    if name.is_empty() {
        return None;
    }
    Some(ArgEntry {
        name: name.to_string(),
        required,
        variadic,
        note: Some("inferred from usage".to_string()),
    })
}

/// Merges `extra` into `list` by identity (`same`): a known member absorbs the new one, the
/// others are appended.
fn merge_by<T>(
    list: &mut Vec<T>,
    extra: Vec<T>,
    same: impl Fn(&T, &T) -> bool,
    absorb: impl Fn(&mut T, T),
) {
    for new in extra {
        match list.iter_mut().find(|old| same(old, &new)) {
            Some(old) => absorb(old, new),
            None => list.push(new),
        }
    }
}

/// Merges `extra` into `args` by name: `required` and `variadic` are OR-ed, a missing note is
/// filled, unmatched args are appended; then args are sorted by name (stable).
pub fn merge_args(args: &mut Vec<ArgEntry>, extra: Vec<ArgEntry>) {
    let absorb = |old: &mut ArgEntry, new: ArgEntry| {
        old.required |= new.required;
        old.variadic |= new.variadic;
        if old.note.is_none() {
            old.note = new.note;
        }
    };
    merge_by(args, extra, |a, b| a.name == b.name, absorb);
    args.sort_by(|a, b| a.name.cmp(&b.name));
}

/// Merges `extra` into `flags` by identity (long if the new flag has one, else short), filling
/// missing fields; unmatched flags are appended; then flags are re-sorted.
pub fn merge_flags(flags: &mut Vec<FlagEntry>, extra: Vec<FlagEntry>) {
    let same = |old: &FlagEntry, new: &FlagEntry| match &new.long {
        Some(long) => old.long.as_ref() == Some(long),
        None => old.short.is_some() && old.short == new.short,
    };
    merge_by(flags, extra, same, fill_flag);
    sort_flags(flags);
}

fn fill_flag(old: &mut FlagEntry, new: FlagEntry) {
    old.long = old.long.take().or(new.long);
    old.short = old.short.take().or(new.short);
    old.value_name = old.value_name.take().or(new.value_name);
    old.repeatable = old.repeatable.take().or(new.repeatable);
    old.stability = old.stability.take().or(new.stability);
    old.platforms = old.platforms.take().or(new.platforms);
    old.takes_value |= new.takes_value;
}

/// Flags by `long` (absent last), then `short` (absent last); stable otherwise (spec §1.9).
pub fn sort_flags(flags: &mut [FlagEntry]) {
    fn key(v: &Option<String>) -> (bool, Option<&str>) {
        (v.is_none(), v.as_deref())
    }
    flags.sort_by(|a, b| {
        key(&a.long)
            .cmp(&key(&b.long))
            .then(key(&a.short).cmp(&key(&b.short)))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXEC: &str = "Run non-interactively\n\nUsage: codex exec [OPTIONS] [PROMPT] [COMMAND]\n\n\
Commands:\n  start  Start\n  resume  Resume a\n          session\n\nArguments:\n  [PROMPT]\n          \
Initial instructions\n          read from stdin\n\nOptions:\n  -c <key=value>  Config\n\n      --beta  Beta\n  \
-i, --image <FILE>...  Images\n";

    #[test]
    fn parses_sections_of_clap_help() {
        let h = parse_help(EXEC, Cli::Codex);
        assert_eq!(h.about, None);
        assert_eq!(
            h.usage.as_deref(),
            Some("codex exec [OPTIONS] [PROMPT] [COMMAND]")
        );
        assert_eq!(h.subcommands, ["start", "resume", "session"]);
        assert_eq!(h.args.len(), 1);
        assert_eq!(
            h.args[0].note.as_deref(),
            Some("Initial instructions\nread from stdin")
        );
        let keys: Vec<_> = h
            .flags
            .iter()
            .map(|f| (f.long.clone(), f.short.clone()))
            .collect();
        assert_eq!(
            keys,
            [
                (None, Some("-c".into())),
                (Some("--beta".into()), None),
                (Some("--image".into()), Some("-i".into()))
            ]
        );
        assert_eq!(h.flags[2].repeatable, Some(true));
        assert_eq!(h.flags[0].value_name.as_deref(), Some("key=value"));
    }

    #[test]
    fn about_skips_the_title_line_and_usage_takes_continuations() {
        let text = "Title\nMore about\n  it\nUsage: codex [OPTIONS] [PROMPT]\n       codex [OPTIONS] <COMMAND> [ARGS]\n\nOptions:\n";
        let h = parse_help(text, Cli::Codex);
        assert_eq!(h.about.as_deref(), Some("More about\nit"));
        assert_eq!(
            h.usage.as_deref(),
            Some("codex [OPTIONS] [PROMPT]\ncodex [OPTIONS] <COMMAND> [ARGS]")
        );
    }

    #[test]
    fn command_tokens_follow_the_reference_rules() {
        assert_eq!(
            parse_command_token("  exec  Run [aliases: e]").as_deref(),
            Some("exec")
        );
        assert_eq!(parse_command_token("  wrapped"), Some("wrapped".into()));
        assert_eq!(parse_command_token("  two words"), None);
        assert_eq!(parse_command_token("exec  Run"), None);
        assert_eq!(parse_command_token("  --flag  x"), None);
        assert_eq!(parse_command_token("  a.b  x"), None);
    }

    #[test]
    fn claude_command_tokens_follow_the_reference_rules() {
        let t = |l: &str| parse_claude_command_token(l);
        assert_eq!(
            t("  doctor     Check the health").as_deref(),
            Some("doctor")
        );
        assert_eq!(t("  update|upgrade   Check").as_deref(), Some("update"));
        assert_eq!(t("  install [options] [target]  Install"), None);
        assert_eq!(t("  help [command]  display help"), None);
        assert_eq!(t("  help  x"), None);
        assert_eq!(t("  claude  x"), None);
        assert_eq!(
            t("                    manifest").as_deref(),
            Some("manifest")
        );
        assert_eq!(t("  a|b"), None);
        assert_eq!(t("  Examples:"), None);
        assert_eq!(t("doctor  Check"), None);
        // The codex rule takes the first word of any head.
        assert_eq!(
            parse_command_token("  install [options]  x").as_deref(),
            Some("install")
        );
    }

    #[test]
    fn commander_help_has_no_about_and_options_keep_its_quirks() {
        let text = "Usage: claude [options] [command] [prompt]\n\nClaude Code - starts\n\nArguments:\n  prompt   Your prompt\n\nOptions:\n  --add-dir <directories...>   Dirs\n  --allowedTools, --allowed-tools <tools...>  Tools\n  -d, --debug [filter]   Debug\n\nCommands:\n  mcp   Configure\n";
        let h = parse_help(text, Cli::Claude);
        assert_eq!(h.about, None);
        assert_eq!(h.args, []);
        assert_eq!(h.subcommands, ["mcp"]);
        let f: Vec<_> = h
            .flags
            .iter()
            .map(|f| (f.long.clone().unwrap(), f.value_name.clone(), f.repeatable))
            .collect();
        assert_eq!(
            f,
            [
                ("--add-dir".into(), Some("directories...".into()), None),
                ("--allowedTools".into(), Some("tools...".into()), None),
                ("--debug".into(), None, None),
            ]
        );
        let inferred = infer_usage_args(h.usage.as_deref().unwrap(), &[], true);
        let names: Vec<_> = inferred.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["command", "prompt"]);
    }

    #[test]
    fn brackets_are_trimmed_whole_and_only_exact_options_is_skipped() {
        assert_eq!(parse_argument("  <<FILE>>  x").unwrap().name, "FILE");
        let names = |u: &str| {
            infer_usage_args(u, &[], false)
                .into_iter()
                .map(|a| (a.name, a.variadic))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names("codex [OPTIONS]... [options]..."),
            [("options".into(), true)]
        );
        assert_eq!(names("codex <<X>>"), [("X".into(), false)]);
    }

    #[test]
    fn flags_with_equals_or_brackets_are_not_recognised() {
        assert_eq!(parse_flag("      --color[=<WHEN>]  Colour"), None);
        let f = parse_flag("  -d, --delta PATH  Delta").unwrap();
        assert_eq!(f.value_name.as_deref(), Some("PATH"));
        assert!(f.takes_value);
        assert_eq!(parse_flag("  -vv  x"), None);
    }

    #[test]
    fn arguments_forms() {
        let a = parse_argument("  <PROMPT>...  The prompt").unwrap();
        assert!(a.required && a.variadic);
        assert_eq!(a.note.as_deref(), Some("The prompt"));
        let a = parse_argument("  [COMMAND]...").unwrap();
        assert!(!a.required && a.variadic && a.note.is_none());
        assert_eq!(parse_argument("  INPUT").unwrap().name, "INPUT");
        assert_eq!(parse_argument("  prompt  lower"), None);
        assert_eq!(parse_argument("  []"), None);
    }

    #[test]
    fn usage_inference_skips_codex_path_flags_and_subcommand_placeholders() {
        let path = ["exec".to_string()];
        let args = infer_usage_args(
            "codex exec [OPTIONS] --model M <PROMPT> [COMMAND]\ncodex exec [FILES]... -- [REST]\ncodex other [X]",
            &path,
            true,
        );
        let names: Vec<_> = args
            .iter()
            .map(|a| (a.name.as_str(), a.required, a.variadic))
            .collect();
        assert_eq!(
            names,
            [
                ("PROMPT", true, false),
                ("FILES", false, true),
                ("REST", false, false)
            ]
        );
        assert_eq!(
            infer_usage_args("codex [OPTIONS] <COMMAND> [ARGS]", &[], false).len(),
            2
        );
    }

    #[test]
    fn merges_and_sorts() {
        let mut flags = vec![
            FlagEntry {
                short: Some("-v".into()),
                ..FlagEntry::default()
            },
            FlagEntry {
                long: Some("--b".into()),
                ..FlagEntry::default()
            },
        ];
        merge_flags(
            &mut flags,
            vec![
                FlagEntry {
                    long: Some("--b".into()),
                    value_name: Some("X".into()),
                    takes_value: true,
                    ..FlagEntry::default()
                },
                FlagEntry {
                    long: Some("--a".into()),
                    short: Some("-a".into()),
                    ..FlagEntry::default()
                },
            ],
        );
        let longs: Vec<_> = flags
            .iter()
            .map(|f| f.long.as_deref().or(f.short.as_deref()))
            .collect();
        assert_eq!(longs, [Some("--a"), Some("--b"), Some("-v")]);
        assert!(flags[1].takes_value);
        let mut args = vec![ArgEntry {
            name: "B".into(),
            required: false,
            variadic: false,
            note: None,
        }];
        merge_args(
            &mut args,
            vec![
                ArgEntry {
                    name: "B".into(),
                    required: true,
                    variadic: true,
                    note: Some("n".into()),
                },
                ArgEntry {
                    name: "A".into(),
                    required: false,
                    variadic: false,
                    note: None,
                },
            ],
        );
        assert_eq!(args[0].name, "A");
        assert!(args[1].required && args[1].variadic);
        assert_eq!(args[1].note.as_deref(), Some("n"));
    }
}
