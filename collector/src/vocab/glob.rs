//! File-name globs (`rules/*.yml`, `targets-?.json`) in the last component of a path, as
//! `rule_files` and `file_sd_configs` take them.

use std::path::{Path, PathBuf};

/// The files `pattern` names now, sorted: the pattern itself when its last component holds no
/// `*` or `?`, else the matching entries of its directory (none when it cannot be read).
pub fn expand_glob(pattern: &Path) -> Vec<PathBuf> {
    let Some(name) = pattern.file_name().and_then(|n| n.to_str()) else {
        return vec![pattern.to_owned()];
    };
    if !name.contains(['*', '?']) {
        return vec![pattern.to_owned()];
    }
    let dir = pattern.parent().unwrap_or(Path::new("."));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(|n| matches(name, n)))
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

/// `*` matches any run of characters, `?` any one character; everything else matches itself.
fn matches(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    let (mut p, mut n) = (0, 0);
    // Where the last `*` stood and how much of the name it had taken, to backtrack to.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == '?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((star_p, star_n)) => {
                    star = Some((star_p, star_n + 1));
                    p = star_p + 1;
                    n = star_n + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_the_last_component() {
        assert!(matches("*.yml", "a.yml"));
        assert!(matches("t-*.json", "t-1.json"));
        assert!(!matches("*.yml", "a.yaml"));
        assert!(matches("a*b*c", "aXbYc"));
        assert!(matches("a*b*c", "abc"));
        assert!(!matches("a*b*c", "aXbYcZ"));
        assert!(matches("t-?.json", "t-1.json"));
        assert!(!matches("t-?.json", "t-12.json"));
        assert!(matches("*", ""));
        assert!(!matches("?", ""));
    }

    #[test]
    fn expands_to_the_sorted_matching_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.yml", "a.yml", "c.json"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        assert_eq!(
            expand_glob(&dir.path().join("*.yml")),
            [dir.path().join("a.yml"), dir.path().join("b.yml")]
        );
        let plain = dir.path().join("missing.yml");
        assert_eq!(expand_glob(&plain), [plain]);
        assert!(expand_glob(&dir.path().join("nowhere/*.yml")).is_empty());
    }
}
