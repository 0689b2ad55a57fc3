//! Metrics that other programs (cron jobs, scripts) write into `*.prom` files, as
//! node_exporter's `textfile` collector.
//!
//! Every scrape reads each `*.prom` file of the directory whole with one open and read, so a
//! writer that renames a finished file into place is always seen entirely old or entirely new.
//! A file that cannot be read or parsed is left out whole and reported through
//! `node_textfile_scrape_error`; the other files and the rest of the scrape are unaffected.

mod parse;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::Deserialize;

use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};
use parse::{ParsedFamily, parse};

/// The `[host.textfile]` section of the agent's configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TextfileConfig {
    /// The directory whose `*.prom` files are exposed; none by default.
    pub directory: Option<PathBuf>,
}

/// The families of the directory's files, `node_textfile_mtime_seconds{file}` and
/// `node_textfile_scrape_error`.
pub(super) struct Textfile {
    directory: Option<PathBuf>,
}

/// What one scrape read from the directory.
#[derive(Default)]
struct Gathered {
    /// Families in order of first appearance, each with the file that first wrote it.
    families: Vec<(ParsedFamily, PathBuf)>,
    /// The modification time of each file read, by path.
    mtimes: Vec<(String, f64)>,
    /// Whether a file or the directory could not be read or used.
    error: bool,
}

impl Textfile {
    pub(super) fn new(config: &TextfileConfig) -> Self {
        Textfile {
            directory: config.directory.clone(),
        }
    }

    /// Reads every `*.prom` file of `directory`, in name order.
    fn gather(directory: &Path) -> Gathered {
        let mut gathered = Gathered::default();
        let entries = match std::fs::read_dir(directory) {
            Ok(entries) => entries,
            Err(error) => {
                tracing::warn!(directory = %directory.display(), %error, "cannot read the textfile directory");
                gathered.error = true;
                return gathered;
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "prom"))
            .collect();
        paths.sort();
        for path in paths {
            let added = read_file(&path).and_then(|(families, mtime)| {
                gathered.merge(&path, families)?;
                Ok(mtime)
            });
            match added {
                Ok(mtime) => gathered.mtimes.push((path.display().to_string(), mtime)),
                Err(error) => {
                    tracing::warn!(file = %path.display(), %error, "textfile left out");
                    gathered.error = true;
                }
            }
        }
        gathered
    }
}

impl Gathered {
    /// Adds a file's families, or none of them when one contradicts an earlier file's type.
    fn merge(&mut self, path: &Path, families: Vec<ParsedFamily>) -> Result<(), String> {
        for family in &families {
            let earlier = self.families.iter().find(|(f, _)| f.name == family.name);
            if let Some((earlier, earlier_path)) = earlier
                && earlier.kind != family.kind
            {
                return Err(format!(
                    "{} has another type in {}",
                    family.name,
                    earlier_path.display()
                ));
            }
        }
        for family in families {
            match self
                .families
                .iter_mut()
                .find(|(f, _)| f.name == family.name)
            {
                Some((earlier, _)) => earlier.samples.extend(family.samples),
                None => self.families.push((family, path.to_owned())),
            }
        }
        Ok(())
    }

    fn write(&self, out: &mut Exposition) {
        for (family, path) in &self.families {
            let help = match &family.help {
                Some(help) => help.clone(),
                None => format!("Metric read from {}", path.display()),
            };
            let mut writer = out.family(&family.name, &help, family.kind);
            for sample in &family.samples {
                let labels: Vec<(&str, &str)> = (sample.labels.iter())
                    .map(|(name, value)| (name.as_str(), value.as_str()))
                    .collect();
                writer.sample_named(&sample.name, &labels, sample.value);
            }
        }
        if !self.mtimes.is_empty() {
            let mut family = out.family(
                "node_textfile_mtime_seconds",
                "Unixtime mtime of textfiles successfully read.",
                MetricType::Gauge,
            );
            for (file, mtime) in &self.mtimes {
                family.sample(&[("file", file)], *mtime);
            }
        }
        out.family(
            "node_textfile_scrape_error",
            "1 if there was an error opening or reading a file, 0 otherwise",
            MetricType::Gauge,
        )
        .sample(&[], if self.error { 1.0 } else { 0.0 });
    }
}

/// Reads and parses one file, with the modification time of the very content read.
fn read_file(path: &Path) -> Result<(Vec<ParsedFamily>, f64), String> {
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let metadata = file.metadata().map_err(|e| e.to_string())?;
    if !metadata.is_file() {
        return Err("not a regular file".to_owned());
    }
    let mut text = String::with_capacity(metadata.len() as usize);
    file.read_to_string(&mut text).map_err(|e| e.to_string())?;
    let families = parse(&text).map_err(|e| e.to_string())?;
    let mtime = metadata
        .modified()
        .ok()
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .map_or(0.0, |since| since.as_secs_f64());
    Ok((families, mtime))
}

impl Collector for Textfile {
    fn name(&self) -> &'static str {
        "textfile"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let gathered = match &self.directory {
            Some(directory) => Textfile::gather(directory),
            None => Gathered::default(),
        };
        gathered.write(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::scrape_one;
    use super::*;

    fn collector(directory: &Path) -> Textfile {
        Textfile::new(&TextfileConfig {
            directory: Some(directory.to_owned()),
        })
    }

    #[test]
    fn good_files_are_exposed_with_their_mtime_and_no_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("backup.prom"),
            "# HELP backup_last_success_seconds Last good backup.\n\
             # TYPE backup_last_success_seconds gauge\n\
             backup_last_success_seconds{job=\"db\"} 1700000000\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("jobs.prom"), "jobs_run 4\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a metric\n").unwrap();
        let text = scrape_one(&collector(dir.path()));
        assert!(
            text.contains("# TYPE backup_last_success_seconds gauge\n"),
            "{text}"
        );
        assert!(text.contains("\nbackup_last_success_seconds{job=\"db\"} 1700000000\n"));
        let jobs = dir.path().join("jobs.prom");
        let help = format!("# HELP jobs_run Metric read from {}\n", jobs.display());
        assert!(text.contains(&help), "{text}");
        assert!(
            text.contains("# TYPE jobs_run untyped\njobs_run 4\n"),
            "{text}"
        );
        let mtime = std::fs::metadata(&jobs).unwrap().modified().unwrap();
        let mtime = mtime.duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
        let line = format!(
            "node_textfile_mtime_seconds{{file=\"{}\"}} ",
            jobs.display()
        );
        let written = text.lines().find_map(|l| l.strip_prefix(&line)).unwrap();
        assert_eq!(written.parse::<f64>().unwrap(), mtime);
        assert!(text.contains("\nnode_textfile_scrape_error 0\n"), "{text}");
        assert!(!text.contains("not a metric"));
    }

    #[test]
    fn a_malformed_file_is_left_out_whole_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a_good.prom"), "good_value 1\n").unwrap();
        std::fs::write(
            dir.path().join("b_bad.prom"),
            "half_value 2\nbad metric line {\n",
        )
        .unwrap();
        let text = scrape_one(&collector(dir.path()));
        assert!(text.contains("\ngood_value 1\n"), "{text}");
        assert!(!text.contains("half_value"), "{text}");
        assert!(!text.contains("b_bad.prom"), "{text}");
        assert!(text.contains("\nnode_textfile_scrape_error 1\n"), "{text}");
    }

    #[test]
    fn files_agreeing_on_a_family_are_merged_and_a_contradiction_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("1.prom"),
            "# TYPE runs counter\nruns{job=\"a\"} 1\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("2.prom"),
            "# TYPE runs counter\nruns{job=\"b\"} 2\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("3.prom"),
            "# TYPE runs gauge\nruns{job=\"c\"} 3\n",
        )
        .unwrap();
        let text = scrape_one(&collector(dir.path()));
        assert_eq!(text.matches("# TYPE runs counter\n").count(), 1, "{text}");
        assert!(
            text.contains("runs{job=\"a\"} 1\nruns{job=\"b\"} 2\n"),
            "{text}"
        );
        assert!(!text.contains("job=\"c\""), "{text}");
        assert!(text.contains("\nnode_textfile_scrape_error 1\n"), "{text}");
    }

    #[test]
    fn a_missing_directory_is_an_error_and_none_configured_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let text = scrape_one(&collector(&dir.path().join("absent")));
        assert!(text.contains("\nnode_textfile_scrape_error 1\n"), "{text}");
        let text = scrape_one(&Textfile::new(&TextfileConfig::default()));
        assert_eq!(
            text,
            "# HELP node_textfile_scrape_error 1 if there was an error opening or reading a file, 0 otherwise\n\
             # TYPE node_textfile_scrape_error gauge\nnode_textfile_scrape_error 0\n"
        );
    }
}
