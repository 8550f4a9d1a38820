//! Micro-benchmarks of the generator against the machine's random-number throughput.
//!
//! `cargo bench -p abforge-synth --bench generate` prints, per benchmark, the time and the
//! throughput: raw Xoshiro256++ draws (the floor any generator pays), the samplers, and one
//! 65 536-row chunk of the seed schema (`examples/seed.toml`, every choice fixed), alone and
//! then encoded to Parquet; then one chunk of each blueprint that exercises a costlier part
//! of the generator: four metrics joined by a Gaussian copula (`correlated_metrics.toml`),
//! clustered metrics (`clustered_stores.toml`) and an effect that changes by day
//! (`novelty_effect.toml`). The end-to-end comparison with the Python baseline is
//! `bench/gen_parquet.py`.

use abforge_synth::rng::{Stream, stream_rng};
use abforge_synth::{BatchWriter, Blueprint, CHUNK_ROWS, Format, Generator};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, RngExt};
use std::hint::black_box;

fn example_generator(name: &str) -> Generator {
    let path = format!("{}/../../examples/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    Generator::new(
        Blueprint::from_path(&path)
            .expect("example blueprint")
            .resolve()
            .expect("resolves"),
    )
}

fn rng(c: &mut Criterion) {
    let mut g = c.benchmark_group("rng");
    g.throughput(Throughput::Elements(CHUNK_ROWS));
    g.bench_function("xoshiro_u64", |b| {
        let mut r = stream_rng(1, Stream::Rows, 0);
        b.iter(|| {
            let mut acc = 0u64;
            for _ in 0..CHUNK_ROWS {
                acc ^= r.next_u64();
            }
            black_box(acc)
        });
    });
    g.bench_function("uniform_f64", |b| {
        let mut r = stream_rng(1, Stream::Rows, 0);
        b.iter(|| {
            let mut acc = 0.0;
            for _ in 0..CHUNK_ROWS {
                acc += r.random::<f64>();
            }
            black_box(acc)
        });
    });
    for (name, d) in [
        (
            "gamma_shape_5",
            abforge_synth::dist::Dist::Gamma {
                shape: 5.0,
                scale: 10.0,
            },
        ),
        (
            "poisson_lambda_3",
            abforge_synth::dist::Dist::Poisson { lambda: 3.0 },
        ),
    ] {
        let s = d.sampler();
        g.bench_function(name, |b| {
            let mut r = stream_rng(1, Stream::Rows, 0);
            b.iter(|| {
                let mut acc = 0.0;
                for _ in 0..CHUNK_ROWS {
                    acc += s.sample(&mut r);
                }
                black_box(acc)
            });
        });
    }
    g.finish();
}

fn chunk(c: &mut Criterion) {
    let generator = example_generator("seed");
    let mut g = c.benchmark_group("seed_schema");
    g.throughput(Throughput::Elements(CHUNK_ROWS));
    g.bench_function("generate_chunk", |b| {
        b.iter(|| black_box(generator.chunk(black_box(1))))
    });
    let batch = generator.chunk(1);
    assert_eq!(batch.num_rows() as u64, CHUNK_ROWS, "a full chunk");
    g.bench_function("encode_chunk_parquet", |b| {
        b.iter(|| {
            let mut w = BatchWriter::new(
                Vec::with_capacity(1 << 20),
                Format::Parquet,
                generator.schema(),
            )
            .expect("writer");
            w.write(std::slice::from_ref(&batch)).expect("write");
            black_box(w.finish().expect("finish").1)
        });
    });
    g.finish();
}

/// One chunk of each blueprint with a costlier generator path, one group per blueprint.
fn features(c: &mut Criterion) {
    for name in ["correlated_metrics", "clustered_stores", "novelty_effect"] {
        let generator = example_generator(name);
        let mut g = c.benchmark_group(format!("{name}_schema"));
        g.throughput(Throughput::Elements(CHUNK_ROWS));
        g.bench_function("generate_chunk", |b| {
            b.iter(|| black_box(generator.chunk(black_box(1))))
        });
        g.finish();
    }
}

criterion_group!(benches, rng, chunk, features);
criterion_main!(benches);
