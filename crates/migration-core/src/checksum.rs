//! Checksums of applied `up.sql` scripts, and the algorithms that computed them.
//!
//! Every bookkeeping row records the id of the algorithm next to the checksum, so a later
//! algorithm never makes an old row look edited: the row is checked with the algorithm that
//! wrote it, and `run` rewrites it with the current one once it matches.

use sha2::{Digest, Sha256};

/// An algorithm that turns a script into the checksum stored when it is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    /// SHA-256 of the script with a leading UTF-8 BOM removed and every CRLF turned into LF:
    /// only the line-ending style and the BOM are ignored, every other byte counts.
    Sha256Normalized,
    /// The first algorithm (rows written before the id was recorded): SHA-256 over the
    /// script's lines, each with a trailing CR removed and LF appended. It also ignored whether
    /// the last line ended with a newline; kept only to read those rows.
    Sha256Lines,
}

impl ChecksumAlgorithm {
    /// The algorithm new rows use.
    pub const CURRENT: ChecksumAlgorithm = ChecksumAlgorithm::Sha256Normalized;

    /// The id stored in `intake_schema_migrations.checksum_algorithm`.
    pub fn id(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Sha256Normalized => "sha256-crlf-bom-v2",
            ChecksumAlgorithm::Sha256Lines => "sha256-lines-v1",
        }
    }

    /// The algorithm with this id, if this build knows it.
    pub fn from_id(id: &str) -> Option<Self> {
        [ChecksumAlgorithm::Sha256Normalized, ChecksumAlgorithm::Sha256Lines].into_iter().find(|a| a.id() == id)
    }

    /// The checksum of `script`, as lowercase hex.
    pub fn checksum(self, script: &str) -> String {
        let mut hasher = Sha256::new();
        match self {
            ChecksumAlgorithm::Sha256Normalized => {
                let text = script.strip_prefix('\u{feff}').unwrap_or(script);
                let mut rest = text;
                while let Some(at) = rest.find("\r\n") {
                    hasher.update(&rest.as_bytes()[..at]);
                    hasher.update(b"\n");
                    rest = &rest[at + 2..];
                }
                hasher.update(rest.as_bytes());
            }
            ChecksumAlgorithm::Sha256Lines => {
                for line in script.lines() {
                    hasher.update(line.trim_end_matches('\r').as_bytes());
                    hasher.update(b"\n");
                }
            }
        }
        hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CURRENT: ChecksumAlgorithm = ChecksumAlgorithm::CURRENT;

    /// Writes `lines` with the chosen line ending after each line (true: CRLF), optionally
    /// behind a BOM: the rewrites an editor or a checkout may make.
    fn render(lines: &[String], crlf: &[bool], bom: bool, final_newline: bool) -> String {
        let mut text = String::from(if bom { "\u{feff}" } else { "" });
        for (i, line) in lines.iter().enumerate() {
            text.push_str(line);
            if i + 1 < lines.len() || final_newline {
                text.push_str(if crlf[i % crlf.len()] { "\r\n" } else { "\n" });
            }
        }
        text
    }

    fn script_lines() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::vec("[ -~\t\u{e9}\u{2014}]{0,30}", 1..12)
    }

    proptest! {
        #[test]
        fn line_ending_style_and_bom_do_not_change_the_checksum(
            lines in script_lines(),
            crlf in proptest::collection::vec(any::<bool>(), 1..8),
            bom in any::<bool>(),
            final_newline in any::<bool>(),
        ) {
            let plain = render(&lines, &[false], false, final_newline);
            let rewritten = render(&lines, &crlf, bom, final_newline);
            prop_assert_eq!(CURRENT.checksum(&plain), CURRENT.checksum(&rewritten));
        }

        #[test]
        fn any_other_edit_changes_the_checksum(
            lines in script_lines(),
            final_newline in any::<bool>(),
            position in any::<prop::sample::Index>(),
            edit in 0..3u8,
            replacement in "[ -~\n\u{e9}]",
        ) {
            let original = render(&lines, &[false], false, final_newline);
            let chars: Vec<char> = original.chars().collect();
            let replacement = replacement.chars().next().unwrap();
            let mut edited = chars.clone();
            match edit {
                0 => edited.insert(position.index(chars.len() + 1), replacement),
                1 if !chars.is_empty() => { edited.remove(position.index(chars.len())); }
                _ if !chars.is_empty() => {
                    let at = position.index(chars.len());
                    prop_assume!(chars[at] != replacement);
                    edited[at] = replacement;
                }
                _ => edited.push(replacement),
            }
            let edited: String = edited.into_iter().collect();
            prop_assert_ne!(CURRENT.checksum(&original), CURRENT.checksum(&edited), "{:?} vs {:?}", original, edited);
        }
    }

    #[test]
    fn ids_round_trip_and_the_old_algorithm_still_reads_old_rows() {
        for algorithm in [ChecksumAlgorithm::Sha256Normalized, ChecksumAlgorithm::Sha256Lines] {
            assert_eq!(ChecksumAlgorithm::from_id(algorithm.id()), Some(algorithm));
        }
        assert_eq!(ChecksumAlgorithm::from_id("md5"), None);
        // The first algorithm could not see a missing final newline; the current one can.
        let old = ChecksumAlgorithm::Sha256Lines;
        assert_eq!(old.checksum("SELECT 1;\n"), old.checksum("SELECT 1;"));
        assert_ne!(CURRENT.checksum("SELECT 1;\n"), CURRENT.checksum("SELECT 1;"));
        assert_eq!(CURRENT.checksum("\u{feff}A\r\nB"), CURRENT.checksum("A\nB"));
    }
}
