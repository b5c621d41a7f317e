//! Writing code maps (SPEC.md §3, code maps): the trap table and the address map are each given
//! to [`MetaTables`] as a list of entries, which is sorted, reduced to what lookups can tell
//! apart, and delta-coded into [`CodeMapBlock`]s and a runs blob.

use crate::reader::code_map::write_delta;
use crate::tables::{CodeMapBlock, MetaTables, CODE_MAP_BLOCK};
use crate::TrapKind;

impl MetaTables {
    /// Sets the trap table: one `(text offset, kind)` per trapping instruction, in any order. Of
    /// two kinds given for one offset, the first is kept.
    pub fn set_traps(&mut self, mut traps: Vec<(u32, TrapKind)>) {
        traps.sort_by_key(|t| t.0);
        traps.dedup_by_key(|t| t.0);
        let entries: Vec<(u32, u32)> = traps.iter().map(|&(at, k)| (at, k as u32)).collect();
        (self.trap_blocks, self.trap_runs) = encode(&entries);
    }

    /// Sets the address map: `(text offset, wasm offset)` pairs, in any order, each meaning that
    /// the code from that offset on (to the next pair's) comes from that wasm offset. Of two pairs
    /// at one offset the last is kept, and a pair that repeats the previous one's wasm offset is
    /// left out: neither changes what the map gives for any text offset.
    pub fn set_address_map(&mut self, mut map: Vec<(u32, u32)>) {
        // Stable: of equal offsets, the last given stays last.
        map.sort_by_key(|e| e.0);
        let mut kept: Vec<(u32, u32)> = Vec::with_capacity(map.len());
        for e in map {
            match kept.last_mut() {
                Some(last) if last.0 == e.0 => *last = e,
                _ => kept.push(e),
            }
            // After replacing, the new last may now repeat the one before it.
            if let [.., a, b] = kept[..] {
                if a.1 == b.1 {
                    kept.pop();
                }
            }
        }
        (self.address_map_blocks, self.address_map_runs) = encode(&kept);
    }
}

/// Delta-codes `entries` (sorted by strictly increasing code offset) in blocks of
/// [`CODE_MAP_BLOCK`].
fn encode(entries: &[(u32, u32)]) -> (Vec<CodeMapBlock>, Vec<u8>) {
    let mut blocks = Vec::with_capacity(entries.len().div_ceil(CODE_MAP_BLOCK));
    let mut runs = Vec::new();
    for chunk in entries.chunks(CODE_MAP_BLOCK) {
        let (code, value) = chunk[0];
        blocks.push(CodeMapBlock {
            code_offset: code.into(),
            value: value.into(),
            run_offset: (runs.len() as u32).into(),
        });
        for pair in chunk.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            write_delta(&mut runs, b.0 - a.0, b.1.wrapping_sub(a.1) as i32);
        }
    }
    (blocks, runs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::code_map::read_delta;
    use crate::reader::CodeMap;

    /// A deterministic pseudo-random sequence (an LCG): tests that cannot vary between runs.
    fn lcg(seed: &mut u64) -> u32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*seed >> 33) as u32
    }

    /// What the address map gave before it was compacted: the last given pair at or before
    /// `offset`, in a plain sorted table.
    fn naive_at(table: &[(u32, u32)], offset: u32) -> Option<u32> {
        let i = table.partition_point(|e| e.0 <= offset);
        table.get(i.checked_sub(1)?).map(|e| e.1)
    }

    /// Entries of every kind of delta: short and long code deltas, growing, equal, shrinking and
    /// wrapping values, offsets up to `u32::MAX`.
    fn sample(n: usize, seed: u64) -> Vec<(u32, u32)> {
        let mut seed = seed;
        let mut at = lcg(&mut seed) % 64;
        let mut wasm = lcg(&mut seed) % 100_000;
        let mut out = Vec::new();
        for _ in 0..n {
            out.push((at, wasm));
            at += match lcg(&mut seed) % 8 {
                0 => 1,
                1..=4 => 1 + lcg(&mut seed) % 16,
                5 => 17 + lcg(&mut seed) % 200,
                6 => 1 + lcg(&mut seed) % 70_000,
                _ => 16,
            };
            wasm = match lcg(&mut seed) % 6 {
                0 => wasm.wrapping_sub(lcg(&mut seed) % 300),
                1 => lcg(&mut seed),
                2 => wasm.wrapping_add(1 + lcg(&mut seed) % 7),
                _ => wasm.wrapping_add(lcg(&mut seed) % 40),
            };
        }
        out
    }

    fn maps(m: &MetaTables) -> (CodeMap<'_>, CodeMap<'_>) {
        (
            CodeMap::new(&m.trap_blocks, &m.trap_runs),
            CodeMap::new(&m.address_map_blocks, &m.address_map_runs),
        )
    }

    #[test]
    fn every_delta_round_trips_at_each_form_boundary() {
        let codes = [1, 2, 15, 16, 17, 127, 128, 129, 16_383, 16_384, u32::MAX];
        let values = [
            0,
            -1,
            7,
            8,
            -16,
            -17,
            111,
            112,
            -64,
            64,
            i32::MAX,
            i32::MIN,
            i32::MIN + 1,
        ];
        for code in codes {
            for value in values {
                let mut run = Vec::new();
                write_delta(&mut run, code, value);
                let short = (1..=16).contains(&code) && (0..=7).contains(&value);
                let medium = (1..=128).contains(&code) && (-16..=111).contains(&value);
                let len = if short {
                    1
                } else if medium {
                    2
                } else {
                    run.len().max(3)
                };
                assert_eq!(run.len(), len, "{code} {value}: {run:?}");
                let mut at = 0;
                assert_eq!(read_delta(&run, &mut at), Some((code, value)));
                assert_eq!(at, run.len());
                // Cut short, it reads as nothing rather than as something else.
                let mut at = 0;
                if run.len() > 1 {
                    assert_eq!(read_delta(&run[..run.len() - 1], &mut at), None);
                }
            }
        }
    }

    #[test]
    fn empty_maps_find_nothing() {
        let mut m = MetaTables::default();
        m.set_traps(Vec::new());
        m.set_address_map(Vec::new());
        let (traps, map) = maps(&m);
        for t in [traps, map] {
            assert!(t.is_empty());
            assert_eq!((t.len(), t.byte_len()), (0, 0));
            for offset in [0, 1, u32::MAX] {
                assert_eq!(t.at_or_before(offset), None);
                assert_eq!(t.get(offset), None);
            }
        }
    }

    #[test]
    fn address_maps_give_what_the_plain_table_gave_at_every_boundary() {
        const K: usize = CODE_MAP_BLOCK;
        for n in [1, 2, K - 1, K, K + 1, 2 * K, 2 * K + 1, 1000] {
            let mut given = sample(n, n as u64);
            // Repeats and several pairs at one offset, which the map leaves out.
            given.push(given[n / 2]);
            given.push((given[n / 3].0, 7));
            if n > 2 {
                given.push((given[1].0, given[0].1));
            }
            let mut plain = given.clone();
            plain.sort_by_key(|e| e.0);
            let mut m = MetaTables::default();
            m.set_address_map(given);
            let (_, map) = maps(&m);
            assert!(map.len() <= plain.len());
            assert_eq!(map.blocks().len(), map.len().div_ceil(CODE_MAP_BLOCK));
            let entries: Vec<_> = map.iter().collect();
            assert!(entries
                .windows(2)
                .all(|w| w[0].code_offset < w[1].code_offset && w[0].value != w[1].value));
            for &(at, _) in &plain {
                for offset in [at.wrapping_sub(1), at, at.saturating_add(1)] {
                    let got = map.at_or_before(offset).map(|e| e.value);
                    assert_eq!(got, naive_at(&plain, offset), "n={n} offset={offset}");
                }
            }
            // Each block's first entry and the last of the block before it.
            for b in map.blocks() {
                let at = b.code_offset.get();
                assert_eq!(map.at_or_before(at).map(|e| e.value), Some(b.value.get()));
                let before = at
                    .checked_sub(1)
                    .map(|o| map.at_or_before(o).map(|e| e.value));
                let plain_before = at.checked_sub(1).map(|o| naive_at(&plain, o));
                assert_eq!(before, plain_before);
            }
            let last = map.at_or_before(u32::MAX).map(|e| e.value);
            assert_eq!(last, naive_at(&plain, u32::MAX));
        }
    }

    #[test]
    fn within_gives_the_entries_of_a_range_across_blocks() {
        const K: usize = CODE_MAP_BLOCK;
        for n in [0, 1, K - 1, K, K + 1, 3 * K + 5] {
            let mut m = MetaTables::default();
            m.set_address_map(sample(n, 3 + n as u64));
            let (_, map) = maps(&m);
            let all: Vec<_> = map.iter().collect();
            let ends = all.iter().flat_map(|e| [e.code_offset, e.code_offset + 1]);
            let bounds: Vec<u32> = [0, u32::MAX].into_iter().chain(ends).collect();
            for &a in &bounds {
                for &b in bounds.iter().filter(|&&b| b >= a).take(4) {
                    let got: Vec<_> = map.within(a..b).collect();
                    let want: Vec<_> = all
                        .iter()
                        .copied()
                        .filter(|e| (a..b).contains(&e.code_offset))
                        .collect();
                    assert_eq!(got, want, "n={n} {a}..{b}");
                }
            }
        }
    }

    #[test]
    fn trap_tables_round_trip_and_match_only_exact_offsets() {
        for n in [1, CODE_MAP_BLOCK, CODE_MAP_BLOCK + 1, 500] {
            let mut seed = n as u64;
            let sites: Vec<(u32, TrapKind)> = sample(n, n as u64)
                .into_iter()
                .map(|(at, _)| {
                    let kind = TrapKind::ALL[lcg(&mut seed) as usize % TrapKind::ALL.len()];
                    (at, kind)
                })
                .collect();
            let mut reversed = sites.clone();
            reversed.reverse();
            let mut m = MetaTables::default();
            m.set_traps(reversed);
            let (traps, _) = maps(&m);
            let decoded: Vec<(u32, u32)> = traps.iter().map(|e| (e.code_offset, e.value)).collect();
            let expected: Vec<(u32, u32)> = sites.iter().map(|&(at, k)| (at, k as u32)).collect();
            assert_eq!(decoded, expected);
            for (i, &(at, kind)) in sites.iter().enumerate() {
                assert_eq!(traps.get(at), Some(kind as u32));
                let next = sites.get(i + 1).map_or(u32::MAX, |s| s.0);
                if at + 1 < next {
                    assert_eq!(traps.get(at + 1), None, "{at}");
                }
                if i == 0 && at > 0 {
                    assert_eq!(traps.get(at - 1), None);
                }
            }
        }
    }

    #[test]
    fn the_first_kind_given_for_an_offset_is_kept() {
        let mut m = MetaTables::default();
        m.set_traps(vec![
            (8, TrapKind::Unreachable),
            (8, TrapKind::MemoryOutOfBounds),
        ]);
        assert_eq!(maps(&m).0.get(8), Some(TrapKind::Unreachable as u32));
        assert_eq!(maps(&m).0.len(), 1);
    }

    #[test]
    fn damaged_maps_give_wrong_answers_but_never_panic() {
        let mut m = MetaTables::default();
        m.set_address_map(sample(200, 3));
        let mut seed = 9;
        for _ in 0..2000 {
            let mut blocks = m.address_map_blocks.clone();
            let mut runs = m.address_map_runs.clone();
            let b = lcg(&mut seed) as usize % blocks.len();
            match lcg(&mut seed) % 3 {
                0 => blocks[b].run_offset = lcg(&mut seed).into(),
                1 => blocks[b].code_offset = lcg(&mut seed).into(),
                _ => {
                    let at = lcg(&mut seed) as usize % runs.len();
                    runs[at] = lcg(&mut seed) as u8;
                }
            }
            let map = CodeMap::new(&blocks, &runs);
            let _ = map.len();
            for _ in 0..8 {
                let _ = map.at_or_before(lcg(&mut seed));
            }
        }
    }
}
