//! Reproducible archives: the same members give the same bytes on every machine.
//!
//! Both formats hold one top directory (the artifact's stem) with the members sorted by
//! name, every time set to SOURCE_DATE_EPOCH, owner 0:0 without names, modes 0755 (the
//! binary, directories) or 0644, and maximum compression. `.tar.gz`: GNU tar headers, a gzip
//! header without name or time and OS byte 255 ("unknown"). `.zip`: deflate, DOS times in UTC
//! (clamped to 1980..2107), Unix permissions, no extra fields.

use std::io::Write;

use anyhow::{Context, Result};
use flate2::Compression;

use super::contract::Format;

/// One file of an archive.
#[derive(Debug, Clone)]
pub struct Member {
    /// Its name below the top directory.
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Whether it is executable (0755, else 0644).
    pub executable: bool,
}

impl Member {
    fn mode(&self) -> u32 {
        if self.executable { 0o755 } else { 0o644 }
    }
}

/// The archive of `members` (any order) under the directory `top`, in `format`.
pub fn build(format: Format, top: &str, members: &[Member], epoch: i64) -> Result<Vec<u8>> {
    let mut sorted: Vec<&Member> = members.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(w) = sorted.windows(2).find(|w| w[0].name == w[1].name) {
        anyhow::bail!("two archive members are named `{}`", w[0].name);
    }
    match format {
        Format::TarGz => tar_gz(top, &sorted, epoch),
        Format::Zip => zip(top, &sorted, epoch),
    }
}

fn tar_gz(top: &str, members: &[&Member], epoch: i64) -> Result<Vec<u8>> {
    let mtime = u64::try_from(epoch).context("SOURCE_DATE_EPOCH is before 1970")?;
    let gz = flate2::GzBuilder::new()
        .operating_system(255)
        .write(Vec::new(), Compression::best());
    let mut tar = tar::Builder::new(gz);
    let header = |kind: tar::EntryType, mode: u32, size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        h.set_size(size);
        h
    };
    let mut dir = header(tar::EntryType::Directory, 0o755, 0);
    tar.append_data(&mut dir, format!("{top}/"), std::io::empty())
        .context("failed to write the tar directory entry")?;
    for m in members {
        let mut h = header(tar::EntryType::Regular, m.mode(), m.bytes.len() as u64);
        tar.append_data(&mut h, format!("{top}/{}", m.name), m.bytes.as_slice())
            .with_context(|| format!("failed to write `{}` into the tar", m.name))?;
    }
    let gz = tar.into_inner().context("failed to finish the tar")?;
    gz.finish().context("failed to finish the gzip stream")
}

fn zip(top: &str, members: &[&Member], epoch: i64) -> Result<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let time = dos_time(epoch)?;
    let base = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .last_modified_time(time);
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.add_directory(format!("{top}/"), base.unix_permissions(0o755))
        .context("failed to write the zip directory entry")?;
    for m in members {
        zip.start_file(format!("{top}/{}", m.name), base.unix_permissions(m.mode()))
            .and_then(|()| zip.write_all(&m.bytes).map_err(Into::into))
            .with_context(|| format!("failed to write `{}` into the zip", m.name))?;
    }
    let cursor = zip.finish().context("failed to finish the zip")?;
    Ok(cursor.into_inner())
}

/// `epoch` as a zip (DOS) time in UTC, clamped to the range the format can hold.
fn dos_time(epoch: i64) -> Result<zip::DateTime> {
    const MIN: i64 = 315_532_800; // 1980-01-01T00:00:00Z
    const MAX: i64 = 4_354_819_198; // 2107-12-31T23:59:58Z
    let ts = jiff::Timestamp::from_second(epoch.clamp(MIN, MAX))
        .context("SOURCE_DATE_EPOCH out of range")?;
    let t = ts.to_zoned(jiff::tz::TimeZone::UTC);
    let small = |v: i8| u8::try_from(v).unwrap_or(0);
    zip::DateTime::from_date_and_time(
        u16::try_from(t.year()).unwrap_or(1980),
        small(t.month()),
        small(t.day()),
        small(t.hour()),
        small(t.minute()),
        small(t.second()),
    )
    .map_err(|_| anyhow::anyhow!("SOURCE_DATE_EPOCH {epoch} has no zip time"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn members() -> Vec<Member> {
        vec![
            Member {
                name: "README.md".into(),
                bytes: b"read me\n".to_vec(),
                executable: false,
            },
            Member {
                name: "parity".into(),
                bytes: b"\x7fELF binary".to_vec(),
                executable: true,
            },
        ]
    }

    #[test]
    fn tar_gz_members_are_sorted_owned_by_root_and_dated_at_the_epoch() {
        let mut reversed = members();
        reversed.reverse();
        let a = build(Format::TarGz, "top", &members(), 1_700_000_000).unwrap();
        let b = build(Format::TarGz, "top", &reversed, 1_700_000_000).unwrap();
        assert_eq!(a, b, "member order must not matter");
        assert_eq!(&a[4..8], &[0, 0, 0, 0], "gzip header time");
        assert_eq!(a[9], 255, "gzip OS byte");
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(a.as_slice()));
        let mut seen = Vec::new();
        for entry in tar.entries().unwrap() {
            let mut e = entry.unwrap();
            let h = e.header();
            assert_eq!(
                (h.uid().unwrap(), h.gid().unwrap(), h.mtime().unwrap()),
                (0, 0, 1_700_000_000)
            );
            assert_eq!(h.username().unwrap(), Some(""));
            let mode = h.mode().unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let mut body = Vec::new();
            e.read_to_end(&mut body).unwrap();
            seen.push((path, mode, body.len()));
        }
        assert_eq!(
            seen,
            [
                ("top/".to_string(), 0o755, 0),
                ("top/README.md".to_string(), 0o644, 8),
                ("top/parity".to_string(), 0o755, 11),
            ]
        );
        let later = build(Format::TarGz, "top", &members(), 1_700_000_001).unwrap();
        assert_ne!(a, later, "the epoch is in the bytes");
    }

    #[test]
    fn zip_is_deterministic_with_unix_modes_and_utc_times() {
        let a = build(Format::Zip, "top", &members(), 1_700_000_000).unwrap();
        let b = build(Format::Zip, "top", &members(), 1_700_000_000).unwrap();
        assert_eq!(a, b);
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(a)).unwrap();
        let names: Vec<String> = (0..zip.len())
            .map(|i| zip.by_index(i).unwrap().name().unwrap().to_string())
            .collect();
        assert_eq!(names, ["top/", "top/README.md", "top/parity"]);
        let f = zip.by_name("top/parity").unwrap();
        assert_eq!(f.unix_mode().map(|m| m & 0o777), Some(0o755));
        let t = f.last_modified().unwrap();
        // 1700000000 = 2023-11-14T22:13:20Z
        assert_eq!(
            (
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            (2023, 11, 14, 22, 13, 20)
        );
    }

    #[test]
    fn two_members_with_one_name_are_refused() {
        let mut m = members();
        m.push(m[0].clone());
        let e = build(Format::TarGz, "top", &m, 0).unwrap_err();
        assert!(e.to_string().contains("`README.md`"), "{e}");
    }
}
