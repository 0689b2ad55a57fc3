//! Encode and decode rates of the store's codecs on node_exporter-like samples (counters in
//! hundredths and integer gauges at 15 s with a few ms of scrape jitter): the head chunk codec
//! (XOR), the compacted group codec (bit-packed, timestamps shared) and the pco block codec
//! that older groups hold. Criterion measures wall time; the summary printed at the end gives
//! decoded samples per CPU second (run under `taskset -c 0` on a shared machine).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use osprey_collector::tsdb::{Sample, block, chunk, group};

#[path = "support/cpu.rs"]
mod cpu;

/// A day (or `n` samples) of one series at 15 s: a counter in hundredths when `seed` is odd,
/// an integer gauge wandering around a level otherwise.
fn samples(n: usize, seed: u64) -> Vec<Sample> {
    let mut rng = 0x2545_F491_4F6C_DD1Du64 ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut t = 1_700_000_000_000i64;
    let mut v = 123_456.78f64;
    let counter = seed % 2 == 1;
    (0..n)
        .map(|i| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            // Timestamps depend on the scrape only, so one target's series share them.
            t = 1_700_000_000_000 + i as i64 * 15_000 + (i as i64 * 7919) % 7 - 3;
            v = if counter {
                ((v * 100.0).round() + (rng % 1500) as f64) / 100.0
            } else {
                (8_000_000 + (rng % 4096) as i64 * 4096) as f64
            };
            Sample { t, v }
        })
        .collect()
}

/// Series ids and samples of one scrape target's day: `n` series sharing a timestamp column.
fn target_day(n: u64) -> Vec<(u64, Vec<Sample>)> {
    (0..n).map(|id| (id, samples(5760, id))).collect()
}

/// Decoded samples per CPU second of `decode`, which decodes `per_call` samples.
fn per_cpu_second(per_call: usize, mut decode: impl FnMut()) -> f64 {
    let mut runs = Vec::new();
    for _ in 0..5 {
        let (mut calls, before) = (0usize, cpu::cpu_seconds());
        while cpu::cpu_seconds() - before < 0.4 {
            for _ in 0..10 {
                decode();
            }
            calls += 10;
        }
        runs.push((calls * per_call) as f64 / (cpu::cpu_seconds() - before));
    }
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

fn codecs(c: &mut Criterion) {
    let head = samples(120, 1);
    let day = samples(5760, 1);
    let head_chunk = chunk::encode(&head);
    let day_block = block::encode(&day).unwrap();
    let target = target_day(40);
    let target_samples: usize = target.iter().map(|(_, s)| s.len()).sum();
    let groups = group::build(target.clone());
    let group_bytes: usize = groups.iter().map(|(_, g)| g.len()).sum();
    let decode_groups = || {
        for (_, g) in &groups {
            std::hint::black_box(group::decode_all(g).unwrap());
        }
    };
    let mut bench = c.benchmark_group("tsdb_codec");
    bench.throughput(Throughput::Elements(head.len() as u64));
    bench.bench_function("xor_encode_120", |b| b.iter(|| chunk::encode(&head)));
    bench.bench_function("xor_decode_120", |b| {
        let mut out = Vec::with_capacity(head.len());
        b.iter(|| {
            out.clear();
            chunk::decode_into(&head_chunk, &mut out).unwrap();
        })
    });
    bench.throughput(Throughput::Elements(day.len() as u64));
    bench.bench_function("pco_encode_5760", |b| {
        b.iter(|| block::encode(&day).unwrap())
    });
    bench.bench_function("pco_decode_5760", |b| {
        let mut out = Vec::with_capacity(day.len());
        b.iter(|| {
            out.clear();
            block::decode_into(&day_block, &mut out).unwrap();
        })
    });
    bench.throughput(Throughput::Elements(target_samples as u64));
    bench.bench_function("group_encode_40x5760", |b| {
        b.iter(|| group::build(target.clone()))
    });
    bench.bench_function("group_decode_40x5760", |b| b.iter(decode_groups));
    bench.finish();

    let mut out = Vec::with_capacity(day.len());
    let xor_rate = per_cpu_second(head.len(), || {
        out.clear();
        chunk::decode_into(&head_chunk, &mut out).unwrap();
    });
    let pco_rate = per_cpu_second(day.len(), || {
        out.clear();
        block::decode_into(&day_block, &mut out).unwrap();
    });
    let group_rate = per_cpu_second(target_samples, decode_groups);
    println!(
        "decode per CPU second: xor chunks {:.1} M/s, groups {:.1} M/s, pco blocks {:.1} M/s",
        xor_rate / 1e6,
        group_rate / 1e6,
        pco_rate / 1e6
    );
    println!(
        "bytes/sample: xor chunk of 120 {:.2}, groups of 40 series x 5760 {:.2}, pco block of \
         5760 {:.2}",
        head_chunk.len() as f64 / head.len() as f64,
        group_bytes as f64 / target_samples as f64,
        day_block.len() as f64 / day.len() as f64
    );
}

criterion_group!(benches, codecs);
criterion_main!(benches);
