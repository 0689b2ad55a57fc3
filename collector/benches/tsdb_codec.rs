//! Encode and decode rates of the head chunk codec (XOR) and the compacted block codec (pco) on
//! node_exporter-like samples: a CPU counter at 15 s with a few ms of scrape jitter.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use osprey_collector::tsdb::{Sample, block, chunk};

fn samples(n: usize) -> Vec<Sample> {
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut t = 1_700_000_000_000i64;
    let mut v = 123_456.78f64;
    (0..n)
        .map(|_| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            t += 15_000 + (rng % 7) as i64 - 3;
            v = ((v * 100.0).round() + (rng % 1500) as f64) / 100.0;
            Sample { t, v }
        })
        .collect()
}

fn codecs(c: &mut Criterion) {
    let head = samples(120);
    let day = samples(5760);
    let head_chunk = chunk::encode(&head);
    let day_block = block::encode(&day).unwrap();
    let mut group = c.benchmark_group("tsdb_codec");
    group.throughput(Throughput::Elements(head.len() as u64));
    group.bench_function("xor_encode_120", |b| b.iter(|| chunk::encode(&head)));
    group.bench_function("xor_decode_120", |b| {
        let mut out = Vec::with_capacity(head.len());
        b.iter(|| {
            out.clear();
            chunk::decode_into(&head_chunk, &mut out).unwrap();
        })
    });
    group.throughput(Throughput::Elements(day.len() as u64));
    group.bench_function("pco_encode_5760", |b| {
        b.iter(|| block::encode(&day).unwrap())
    });
    group.bench_function("pco_decode_5760", |b| {
        let mut out = Vec::with_capacity(day.len());
        b.iter(|| {
            out.clear();
            block::decode_into(&day_block, &mut out).unwrap();
        })
    });
    group.finish();
    println!(
        "bytes/sample: xor chunk of 120 {:.2}, pco block of 5760 {:.2}",
        head_chunk.len() as f64 / head.len() as f64,
        day_block.len() as f64 / day.len() as f64
    );
}

criterion_group!(benches, codecs);
criterion_main!(benches);
