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
    println!("{seeds} seeds: {quick} accepted quickly, {passed} passed; {compiled} schemas compiled");
    assert!(compiled * 10 >= SCHEMAS.len() * 8, "{compiled} of {}", SCHEMAS.len());
    assert!(quick * 2 >= seeds, "{quick} of {seeds}");
    assert!(passed * 3 >= seeds * 2, "{passed} of {seeds}");
}
