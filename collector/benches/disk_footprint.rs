//! Bytes per sample on disk for a store fed the way a running collector feeds it.
//!
//! Reads a Prometheus-text file with millisecond timestamps (`tests/bench/node_dataset.py`
//! writes one) and replays it into a [`Storage`] opened in DIR with the collector's default
//! options, background maintenance on: scrape by scrape (the samples one target exposes at one
//! timestamp, appended and committed together, as a scrape loop does) in time order. Then it
//! closes the store as a clean shutdown does and prints `du -sb DIR` per stored sample. Nothing
//! is compacted by hand and no backup is taken: DIR is what a collector that had scraped these
//! targets over the dataset's span would leave.
//!
//! The background thread's schedule is replayed in simulated time, through the same public
//! entry points it calls: a durability tick ([`Storage::sync`]) every `flush_interval` of the
//! dataset's clock and a maintenance pass ([`Storage::compact`] without `all`: compaction of
//! finished days, then retention) every [`MAINTENANCE_EVERY_MS`]. Sleeping instead would need
//! the dataset's days of wall time to give each scrape its own tick and maintenance its
//! cadence; letting the real thread tick while appending at full speed would fold thousands of
//! scrapes into one write-ahead record and run maintenance once per simulated day or less,
//! which is not what a running store writes. The thread still runs meanwhile, as background
//! maintenance is on; its passes on the wall clock (one every 10 s of the replay) are a small
//! fraction of the replayed ones.
//!
//! `cargo bench -p osprey-collector --bench disk_footprint -- FILE DIR` (DIR must not hold
//! anything yet; it is kept for the caller to inspect).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use osprey_collector::labels::{Labels, METRIC_NAME, MatchOp, Matcher};
use osprey_collector::scrape::parse::{Entry, Format, Parser};
use osprey_collector::tsdb::{Appendable, Querier, SeriesRef, Storage, StorageOptions};

/// How often the storage thread runs maintenance (`MAINTENANCE_EVERY` in
/// `collector/src/tsdb/storage.rs`), in milliseconds of the dataset's clock.
const MAINTENANCE_EVERY_MS: i64 = 10_000;

/// Bytes of the file parsed at a time (whole lines).
const READ_BLOCK: usize = 4 << 20;

/// The label whose value names the target a series was scraped from.
const SOURCE_LABEL: &str = "instance";

/// A dataset held in memory: each series once, and every sample as a point.
#[derive(Default)]
struct Dataset {
    series: Vec<Labels>,
    /// Index into `sources` of each series' target.
    source_of: Vec<u32>,
    /// The targets' `instance` values (empty for series without one).
    sources: Vec<String>,
    points: Vec<Point>,
}

/// One sample of series `series` (an index into [`Dataset::series`]).
struct Point {
    t: i64,
    series: u32,
    v: f64,
}

/// What the replay did.
#[derive(Default)]
struct Replay {
    scrapes: u64,
    ticks: u64,
    maintenance_passes: u64,
    out_of_order: u64,
}

impl Dataset {
    /// Reads every sample of `path`; each needs a timestamp.
    fn load(path: &Path) -> anyhow::Result<Dataset> {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut dataset = Dataset::default();
        let mut index: HashMap<Box<[u8]>, u32> = HashMap::new();
        let mut source_index: HashMap<String, u32> = HashMap::new();
        let mut block = Vec::with_capacity(READ_BLOCK + (64 << 10));
        let mut offset = 0u64;
        loop {
            block.clear();
            while block.len() < READ_BLOCK {
                let read = reader
                    .read_until(b'\n', &mut block)
                    .with_context(|| format!("reading {}", path.display()))?;
                if read == 0 {
                    break;
                }
            }
            if block.is_empty() {
                break;
            }
            let mut parser = Parser::new(&block, Format::Text);
            let at = |line| {
                format!(
                    "{}: line {line} of the block at byte {offset}",
                    path.display()
                )
            };
            while let Some(entry) = parser
                .next()
                .map_err(|e| anyhow::anyhow!("{}: {e}", at(e.line)))?
            {
                let Entry::Sample(sample) = entry else {
                    continue;
                };
                let Some(t) = sample.timestamp_ms else {
                    bail!("{}: a sample without a timestamp", at(parser.line()));
                };
                let series = match index.get(sample.series) {
                    Some(&series) => series,
                    None => {
                        let labels = sample.to_labels();
                        let source = labels.get(SOURCE_LABEL).unwrap_or_default().to_owned();
                        let next_source = dataset.sources.len() as u32;
                        let source = *source_index.entry(source.clone()).or_insert_with(|| {
                            dataset.sources.push(source);
                            next_source
                        });
                        let series =
                            u32::try_from(dataset.series.len()).context("more than 2^32 series")?;
                        dataset.series.push(labels);
                        dataset.source_of.push(source);
                        index.insert(sample.series.into(), series);
                        series
                    }
                };
                dataset.points.push(Point {
                    t,
                    series,
                    v: sample.value,
                });
            }
            offset += block.len() as u64;
        }
        ensure!(
            !dataset.points.is_empty(),
            "{} holds no samples",
            path.display()
        );
        // Scrape order: by time, then one target's samples together, in the order it lists them.
        let source_of = &dataset.source_of;
        dataset
            .points
            .sort_by_key(|p| (p.t, source_of[p.series as usize], p.series));
        Ok(dataset)
    }

    /// The points in runs of one target at one timestamp: what one scrape appends.
    fn scrapes(&self) -> impl Iterator<Item = &[Point]> {
        self.points.chunk_by(|a, b| {
            a.t == b.t && self.source_of[a.series as usize] == self.source_of[b.series as usize]
        })
    }
}

/// Appends `dataset` scrape by scrape, ticking and maintaining on the storage thread's
/// schedule in the dataset's time.
fn replay(
    storage: &Storage,
    options: &StorageOptions,
    dataset: &Dataset,
) -> anyhow::Result<Replay> {
    let tick_ms = i64::try_from(options.flush_interval.as_millis())
        .context("flush interval")?
        .max(1);
    let first_t = dataset.points[0].t;
    let mut next_tick = first_t + tick_ms;
    let mut next_maintenance = first_t + MAINTENANCE_EVERY_MS;
    let mut refs: Vec<Option<SeriesRef>> = vec![None; dataset.series.len()];
    let mut replay = Replay::default();
    let mut tick = |replay: &mut Replay, until: i64| -> anyhow::Result<()> {
        while next_tick <= until {
            storage.sync().context("durability tick")?;
            replay.ticks += 1;
            if next_tick >= next_maintenance {
                storage.compact(false).context("maintenance")?;
                replay.maintenance_passes += 1;
                next_maintenance += MAINTENANCE_EVERY_MS;
            }
            next_tick += tick_ms;
        }
        Ok(())
    };
    for scrape in dataset.scrapes() {
        tick(&mut replay, scrape[0].t)?;
        let source = &dataset.sources[dataset.source_of[scrape[0].series as usize] as usize];
        let mut app = storage.appender(source);
        for point in scrape {
            let series = point.series as usize;
            match refs[series] {
                Some(known) => app.append_ref(known, point.t, point.v)?,
                None => {
                    refs[series] = Some(app.append(&dataset.series[series], point.t, point.v)?)
                }
            }
        }
        replay.out_of_order += app.commit()?.out_of_order;
        replay.scrapes += 1;
    }
    // The tick after the last scrape makes it durable, as it would within `flush_interval`.
    let last_t = dataset.points[dataset.points.len() - 1].t;
    tick(&mut replay, last_t + tick_ms)?;
    Ok(replay)
}

/// Samples the store holds, counted target by target to keep one selection's size bounded.
fn stored_samples(storage: &Storage, dataset: &Dataset) -> anyhow::Result<u64> {
    let (start, end) = (
        dataset.points[0].t,
        dataset.points[dataset.points.len() - 1].t,
    );
    let mut total = 0;
    for source in &dataset.sources {
        let matchers = [
            Matcher::new(MatchOp::Regex, METRIC_NAME, ".+")?,
            Matcher::new(MatchOp::Equal, SOURCE_LABEL, source.as_str())?,
        ];
        let found = storage.select(&matchers, start, end)?;
        total += found.iter().map(|s| s.samples.len() as u64).sum::<u64>();
    }
    Ok(total)
}

/// `du -sb dir`: the bytes the operator's disk shows for the directory.
fn du_bytes(dir: &Path) -> anyhow::Result<u64> {
    let out = Command::new("du")
        .arg("-sb")
        .arg(dir)
        .output()
        .context("running du")?;
    ensure!(out.status.success(), "du -sb {} failed", dir.display());
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .next()
        .and_then(|bytes| bytes.parse().ok())
        .with_context(|| format!("du printed {text:?}"))
}

fn run(file: &Path, dir: &Path) -> anyhow::Result<()> {
    let occupied = std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some());
    ensure!(!occupied, "{} already holds files", dir.display());
    let loaded = Instant::now();
    let dataset = Dataset::load(file)?;
    let samples = dataset.points.len() as u64;
    println!(
        "disk_footprint: {} series, {samples} samples from {} targets read in {:.1} s",
        dataset.series.len(),
        dataset.sources.len(),
        loaded.elapsed().as_secs_f64(),
    );
    let options = StorageOptions::default();
    let storage = Storage::open(dir, options.clone())
        .with_context(|| format!("opening a store in {}", dir.display()))?;
    let started = Instant::now();
    let replay = replay(&storage, &options, &dataset)?;
    println!(
        "disk_footprint: {} scrapes replayed in {:.1} s with {} durability ticks and {} \
         maintenance passes; {} samples refused as out of order",
        replay.scrapes,
        started.elapsed().as_secs_f64(),
        replay.ticks,
        replay.maintenance_passes,
        replay.out_of_order,
    );
    let stored = stored_samples(&storage, &dataset)?;
    println!("disk_footprint: the store holds {stored} samples before closing");
    storage.close().context("closing the store")?;
    let bytes = du_bytes(dir)?;
    println!(
        "disk_footprint: du -sb {} = {bytes} bytes after a clean close, {:.3} bytes/sample",
        dir.display(),
        bytes as f64 / stored.max(1) as f64,
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os()
        .skip(1)
        .filter(|a| a != "--bench")
        .map(PathBuf::from)
        .collect();
    let [file, dir] = args.as_slice() else {
        eprintln!("usage: disk_footprint DATASET.prom DIR (DIR is created, and must be empty)");
        return ExitCode::FAILURE;
    };
    match run(file, dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("disk_footprint: {error:#}");
            ExitCode::FAILURE
        }
    }
}
