//! Dense retrieval on a stored catalog, the query embedding excluded: latency of the store's
//! search (through the vector index when the catalog is large) and of the exact scan, and the
//! index's recall@10 against it, unfiltered and with filters of known selectivity (the ones
//! `bench/synthetic_large.py` writes: live 50 %, genre "synthwave" 5 %, "zydeco" 0.1 %).
//!
//!     cargo run --release -p music-rag-store --example vector_index_bench -- DATA_DIR \
//!         [QUERIES] [INDEX_FROM_TRACKS] [QUERY_VECTORS.jsonl]
//!
//! Queries are stored vectors moved by noise of half their length (near a track and its
//! neighbours, not equal to it), or the first QUERIES lines of QUERY_VECTORS.jsonl (`{"embedding":
//! [...]}` per line, as `music-rag model embed` writes them for real text queries). Prints one
//! JSON object. `GENRES=rock,jazz` measures those genre filters instead of the synthetic ones
//! (for a real catalog).

use std::time::Instant;

use music_rag_core::{Filter, Store};
use music_rag_store::{Access, EmbeddedStore};

/// The allocator the `music-rag` binary uses, so memory and open time are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<f64>().ok()? / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or("usage: DATA_DIR [QUERIES] [INDEX_FROM_TRACKS]")?;
    let queries: usize = args.next().map_or(Ok(200), |a| a.parse())?;
    let index_from: Option<usize> = args.next().map(|a| a.parse()).transpose()?;
    let query_vectors = args.next();

    let started = Instant::now();
    // Opened for writing, so an index trained at open is saved and the next run fills it from
    // the file (`vector-index.bin`) instead: run twice to see both opens.
    let store = EmbeddedStore::open_with_vector_index_from(
        dir.as_ref(),
        None,
        Access::ReadWrite,
        index_from.unwrap_or(music_rag_store::ANN_MIN_TRACKS),
    )?;
    let open_s = started.elapsed().as_secs_f64();
    eprintln!("opened in {open_s:.2} s");
    let tracks = store.count()?;
    // The index's share of the open: dropped and built again.
    let lists = store.vector_index_lists();
    store.set_vector_index_threshold(usize::MAX)?;
    let started = Instant::now();
    store.set_vector_index_threshold(index_from.unwrap_or(music_rag_store::ANN_MIN_TRACKS))?;
    let index_build_s = lists.map(|_| started.elapsed().as_secs_f64());

    // Every (tracks / queries)-th track in id order, moved by noise.
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut noise = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0
    };
    let step = (tracks / queries).max(1);
    let mut vectors: Vec<Vec<f32>> = Vec::new();
    if let Some(path) = &query_vectors {
        for line in std::fs::read_to_string(path)?.lines().take(queries) {
            let v: serde_json::Value = serde_json::from_str(line)?;
            let embedding = serde_json::from_value(v["embedding"].clone())?;
            vectors.push(embedding);
        }
    }
    let mut cursor: Option<String> = None;
    while query_vectors.is_none() && vectors.len() < queries {
        let page = store.list(cursor.as_deref(), step)?;
        let Some(first) = page.tracks.first() else {
            break;
        };
        let v = store
            .get_embedding(&first.id)?
            .ok_or("a listed track has no vector")?;
        let n: Vec<f32> = v.iter().map(|_| noise()).collect();
        let n_len = n.iter().map(|x| x * x).sum::<f32>().sqrt();
        let mut q: Vec<f32> = v.iter().zip(&n).map(|(a, b)| a + 0.5 * b / n_len).collect();
        let len = q.iter().map(|x| x * x).sum::<f32>().sqrt();
        q.iter_mut().for_each(|x| *x /= len);
        vectors.push(q);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }

    let genre = |g: &str| Filter {
        genres: vec![g.into()],
        ..Default::default()
    };
    let mut filters: Vec<(String, Filter)> = vec![("none".into(), Filter::default())];
    match std::env::var("GENRES") {
        Ok(list) => filters.extend(
            list.split(',')
                .map(|g| (format!("genre {g}"), genre(g.trim()))),
        ),
        Err(_) => filters.extend([
            (
                "live (50 %)".into(),
                Filter {
                    live: Some(true),
                    ..Default::default()
                },
            ),
            ("genre synthwave (5 %)".into(), genre("synthwave")),
            ("genre zydeco (0.1 %)".into(), genre("zydeco")),
        ]),
    }
    let mut report = Vec::new();
    for (name, filter) in &filters {
        let (mut fast, mut exact, mut found, mut wanted) = (Vec::new(), Vec::new(), 0, 0);
        for q in &vectors {
            let t = Instant::now();
            let got = store.dense_search(q, filter, 10)?;
            fast.push(t.elapsed().as_secs_f64() * 1000.0);
            let t = Instant::now();
            let truth = store.dense_search_exact(q, filter, 10)?;
            exact.push(t.elapsed().as_secs_f64() * 1000.0);
            wanted += truth.len();
            found += truth
                .iter()
                .filter(|t| got.iter().any(|g| g.id == t.id))
                .count();
        }
        fast.sort_by(f64::total_cmp);
        exact.sort_by(f64::total_cmp);
        report.push(serde_json::json!({
            "filter": name,
            "p50_ms": percentile(&fast, 0.5),
            "p95_ms": percentile(&fast, 0.95),
            "exact_p50_ms": percentile(&exact, 0.5),
            "exact_p95_ms": percentile(&exact, 0.95),
            "recall_at_10": (wanted > 0).then(|| found as f64 / wanted as f64),
        }));
    }
    println!(
        "{}",
        serde_json::json!({
            "tracks": tracks,
            "queries": vectors.len(),
            "queries_from": query_vectors.as_deref().unwrap_or("stored vectors moved by noise"),
            "index_lists": store.vector_index_lists(),
            "open_s": open_s,
            "index_build_s": index_build_s,
            "rss_mib": rss_mib(),
            "searches": report,
        })
    );
    Ok(())
}
