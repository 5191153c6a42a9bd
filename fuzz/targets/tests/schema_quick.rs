//! The schema_quick seeds stay useful: most built-in schemas compile, and most seeds reach the
//! quick path's "valid" and the filter's pass (a seed that only ever hits the full way tests
//! nothing of the quick path).

use palisade_fuzz_targets::schema_quick::{reach, SCHEMAS};
use std::path::Path;

#[test]
fn the_seeds_reach_the_quick_path() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/schema_quick");
    let (mut seeds, mut quick, mut passed, mut compiled) = (0, 0, 0, vec![false; SCHEMAS.len()]);
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let data = std::fs::read(entry.path()).unwrap();
        let r = reach(&data);
        seeds += 1;
        quick += usize::from(r.quick == Some(true));
        passed += usize::from(r.passed == Some(true));
        if let (Some(pick), Some(_)) = (data.first(), r.quick) {
            if let Some(c) = compiled.get_mut(usize::from(*pick)) {
                *c = true;
            }
        }
    }
    let compiled = compiled.iter().filter(|c| **c).count();
    println!(
        "{seeds} seeds: {quick} accepted quickly, {passed} passed; {compiled} schemas compiled"
    );
    assert!(
        compiled * 10 >= SCHEMAS.len() * 8,
        "{compiled} of {}",
        SCHEMAS.len()
    );
    // Absolute counts (the 58 seeds give 37 and 49): a fuzzer's additions to the corpus only add.
    assert!(quick >= 30, "{quick} of {seeds}");
    assert!(passed >= 40, "{passed} of {seeds}");
}

/// Bodies generated from the schemas (byte 2, bit 5): the same properties as the fuzz target
/// checks, on stable, and they reach the quick path's "valid" for most schemas.
#[test]
fn generated_bodies_keep_the_properties_and_reach_the_quick_path() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut runs, mut quick, mut valid) = (0, 0, 0);
    let mut schemas_quick = vec![false; SCHEMAS.len()];
    for (pick, seen) in schemas_quick.iter_mut().enumerate() {
        for knobs in [0u8, 1, 2, 8, 12] {
            for _ in 0..24 {
                let mut data = vec![u8::try_from(pick).unwrap(), knobs, 0x20];
                data.extend((0..64).map(|_| next().to_le_bytes()[0]));
                let r = reach(&data);
                runs += 1;
                valid += usize::from(r.full);
                if r.quick == Some(true) {
                    quick += 1;
                    *seen = true;
                }
            }
        }
    }
    let schemas = schemas_quick.iter().filter(|s| **s).count();
    println!("{runs} generated bodies: {valid} valid, {quick} accepted quickly; {schemas} schemas");
    assert!(schemas * 2 > SCHEMAS.len(), "{schemas}");
    assert!(quick * 4 > runs, "{quick} of {runs}");
}
