//! `parity gc [--max-size SIZE]`

use clap::Args;

use crate::cli::{self, GlobalArgs};

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Keep the object store under this size (`500M`, `2G`, `1048576`); least recently used
    /// objects go first.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "1G")]
    max_size: u64,
}

pub fn exec(g: &GlobalArgs, a: GcArgs) -> anyhow::Result<i32> {
    let ws = cli::workspace(g)?;
    let stats = ws.cache.gc(a.max_size)?;
    eprintln!(
        "{:>12} {} object(s), {} -> {} bytes (limit {})",
        "Removed", stats.deleted, stats.before, stats.after, a.max_size
    );
    Ok(0)
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => {
            let unit = s[i..]
                .trim_end_matches(['B', 'b', 'i'])
                .to_ascii_uppercase();
            let mult: u64 = match unit.as_str() {
                "" => 1,
                "K" => 1 << 10,
                "M" => 1 << 20,
                "G" => 1 << 30,
                "T" => 1 << 40,
                _ => return Err(format!("unknown size unit in `{s}` (use K, M, G or T)")),
            };
            (&s[..i], mult)
        }
        None => (s, 1),
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("invalid size `{s}`"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("size `{s}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("500M"), Ok(500 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert!(parse_size("3X").is_err());
    }
}
