//! Envoy under valgrind's callgrind: the command line, `callgrind_control`, and reading what a
//! dump says (its `summary:` total, and its self costs grouped by object).

use crate::util::Result;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The valgrind prefix for an Envoy whose dumps go to `out` (`out.1`, `out.2`, … per dump).
/// Instrumentation starts off (start-up runs faster and is not counted); `all-non-file` makes
/// valgrind see V8 writing and rewriting its JIT code in anonymous memory.
pub fn wrapper(out: &Path) -> Vec<String> {
    vec![
        "valgrind".into(),
        "--tool=callgrind".into(),
        "--instr-atstart=no".into(),
        "--smc-check=all-non-file".into(),
        format!("--callgrind-out-file={}", out.display()),
    ]
}

/// Runs `callgrind_control <args> <pid>`.
pub fn control(pid: u32, args: &[&str]) -> Result {
    let out = Command::new("callgrind_control")
        .args(args)
        .arg(pid.to_string())
        .output()
        .map_err(|e| format!("callgrind_control: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    // It exits 0 even when it found no such process; it says so on stderr.
    if out.status.success() && text.contains("OK.") {
        Ok(())
    } else {
        Err(format!(
            "callgrind_control {} {pid}: {}{}",
            args.join(" "),
            text,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The newest numbered dump `out.N` beside `out`.
pub fn newest_dump(out: &Path) -> Result<PathBuf> {
    let dir = out.parent().ok_or("dump path has no directory")?;
    let base = out
        .file_name()
        .map(|n| format!("{}.", n.to_string_lossy()))
        .ok_or("dump path has no file name")?;
    let newest = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n: u64 = name.strip_prefix(&base)?.parse().ok()?;
            Some((n, e.path()))
        })
        .max_by_key(|(n, _)| *n);
    newest
        .map(|(_, path)| path)
        .ok_or_else(|| format!("no callgrind dump {}N in {}", base, dir.display()))
}

/// The `summary:` total of a dump (instructions executed, every thread).
pub fn summary(dump: &str) -> Option<u64> {
    dump.lines()
        .find_map(|l| l.strip_prefix("summary:"))
        .and_then(|v| v.trim().parse().ok())
}

/// A dump's instructions by where the code lives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Split {
    /// Every instruction.
    pub total: u64,
    /// Code in no file (`[???]`, outside Envoy's mappings): what V8 generated at run time, i.e.
    /// the compiled Wasm module and its wrappers (V8's builtins are in the Envoy binary).
    pub jit: u64,
    /// The Envoy binary (Envoy, and V8's runtime and compiler compiled into it).
    pub envoy: u64,
    /// Every other object: libc, libm, the dynamic loader, valgrind's preload.
    pub libs: u64,
}

/// Groups a dump's self costs by object. The dump names each object once (`ob=(3) /path`, or
/// `cob=(1) ???` on a call) and then by number (`ob=(3)`), functions likewise (`fn=`, `cfn=`);
/// cost lines (`position Ir`) count for the current function's object, except the line after
/// `calls=`, which is the call's inclusive cost (already counted in its callee).
/// `callgrind_annotate` would do the same, but it drops the object of inlined code (lines from
/// `fi=` headers), so this reads the dump itself.
///
/// `envoy` is the Envoy binary's path as the dump names it. Valgrind leaves the code after
/// Envoy's `.text` without an object (`???`, like V8's generated code): the `google_malloc`
/// section, tcmalloc's malloc and free, 11k instructions per request even with no filter. So
/// code in `???` whose function address lies in `envoy_code` (Envoy's mappings, absolute) counts
/// as Envoy's.
pub fn split(dump: &str, envoy: &str, envoy_code: &[(u64, u64)]) -> Split {
    #[derive(Clone, Copy, PartialEq)]
    enum Object {
        Jit,
        Envoy,
        Lib,
    }
    let classify = |name: &str| {
        if name == "???" {
            Object::Jit
        } else if name == envoy {
            Object::Envoy
        } else {
            Object::Lib
        }
    };
    // `x=(3) name` defines 3 and is that name; `x=(3)` refers to it; `x=name` is uncompressed.
    fn resolve<'a>(
        table: &mut std::collections::HashMap<&'a str, &'a str>,
        spec: &'a str,
    ) -> &'a str {
        let spec = spec.trim();
        match spec.strip_prefix('(').and_then(|r| r.split_once(')')) {
            Some((id, name)) if !name.trim().is_empty() => {
                table.insert(id, name.trim());
                name.trim()
            }
            Some((id, _)) => table.get(id).copied().unwrap_or("???"),
            None => spec,
        }
    }
    let in_envoy = |function: &str| {
        function
            .strip_prefix("0x")
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .is_some_and(|a| envoy_code.iter().any(|(lo, hi)| (*lo..*hi).contains(&a)))
    };
    let mut objects = std::collections::HashMap::new();
    let mut functions = std::collections::HashMap::new();
    let mut split = Split::default();
    let mut object = Object::Lib;
    let mut current = Object::Lib;
    let mut after_calls = false;
    for line in dump.lines() {
        if let Some(spec) = line.strip_prefix("ob=") {
            object = classify(resolve(&mut objects, spec));
            current = object;
        } else if let Some(spec) = line.strip_prefix("cob=") {
            resolve(&mut objects, spec);
        } else if let Some(spec) = line.strip_prefix("fn=") {
            let function = resolve(&mut functions, spec);
            current = if object == Object::Jit && in_envoy(function) {
                Object::Envoy
            } else {
                object
            };
        } else if let Some(spec) = line.strip_prefix("cfn=") {
            resolve(&mut functions, spec);
        } else if line.starts_with("calls=") {
            after_calls = true;
        } else if line.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '*')) {
            if std::mem::take(&mut after_calls) {
                continue;
            }
            let cost: u64 = line
                .split_whitespace()
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            split.total += cost;
            match current {
                Object::Jit => split.jit += cost,
                Object::Envoy => split.envoy += cost,
                Object::Lib => split.libs += cost,
            }
        }
    }
    split
}

/// The address ranges `/proc/<pid>/maps` shows for `binary` (under valgrind, the client's
/// mappings are the valgrind process's own).
pub fn mappings(maps: &str, binary: &Path) -> Vec<(u64, u64)> {
    let binary = binary.to_string_lossy();
    maps.lines()
        .filter(|l| l.split_whitespace().nth(5) == Some(binary.as_ref()))
        .filter_map(|l| {
            let (lo, hi) = l.split_whitespace().next()?.split_once('-')?;
            Some((
                u64::from_str_radix(lo, 16).ok()?,
                u64::from_str_radix(hi, 16).ok()?,
            ))
        })
        .collect()
}

/// The command line the dump records (`cmd: /path/to/envoy -c …`): its program, as the dump's
/// `ob=` lines name it.
pub fn program(dump: &str) -> Option<&str> {
    dump.lines()
        .find_map(|l| l.strip_prefix("cmd:"))
        .and_then(|c| c.split_whitespace().next())
}

/// Reads a dump: its `summary:` total and its self costs by object (see [`split`]).
pub fn read_dump(dump: &Path, envoy_code: &[(u64, u64)]) -> Result<(u64, Split)> {
    let text = std::fs::read_to_string(dump).map_err(|e| format!("{}: {e}", dump.display()))?;
    let total = summary(&text).ok_or_else(|| format!("{}: no summary line", dump.display()))?;
    let envoy = program(&text).unwrap_or_default();
    let split = split(&text, envoy, envoy_code);
    // The self costs must add up to what the dump says they do (else the format was misread).
    let totals: Option<u64> = text
        .lines()
        .find_map(|l| l.strip_prefix("totals:"))
        .and_then(|v| v.trim().parse().ok());
    match totals {
        Some(t) if t != split.total => Err(format!(
            "{}: self costs add up to {}, the dump says {t}",
            dump.display(),
            split.total
        )),
        _ => Ok((total, split)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENVOY: &str =
        "/root/.cache/palisade/envoy-1.40.0/lib/python3.11/site-packages/envoy/_bin/envoy";

    /// The head of a real dump (Envoy, the bundle's headers stage, 500 requests).
    const DUMP: &str = "# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 8070
cmd:  /root/.cache/palisade/envoy-1.40.0/lib/python3.11/site-packages/envoy/_bin/envoy -c b.yaml --concurrency 1 -l warn --disable-hot-restart
part: 1


desc: I1 cache: 
desc: D1 cache: 
desc: LL cache: 

desc: Timerange: Basic block 0 - 24587525
desc: Trigger: dump

positions: line
events: Ir
summary: 102908193


ob=(1) /usr/lib/x86_64-linux-gnu/libc.so.6
fl=(1) ???
fn=(1) 0x0000000000028765
";

    #[test]
    fn the_summary_line_is_the_total() {
        assert_eq!(summary(DUMP), Some(102_908_193));
        assert_eq!(summary("events: Ir\n"), None);
    }

    /// Real pieces of that dump: a libc function, an Envoy function calling into JIT code
    /// (the call's inclusive cost follows `calls=`), and JIT code referring to objects by number.
    const BODY: &str = "
ob=(3) /usr/lib/x86_64-linux-gnu/libc.so.6
fl=(11) ./string/../sysdeps/x86_64/multiarch/memcmp-avx2-movbe.S
fn=(1050) __memcmp_avx2_movbe
80 19572
+1 19572
+3 3620
fi=(18) ./nptl/../nptl/descr.h
-1 9

ob=(2) /root/.cache/palisade/envoy-1.40.0/lib/python3.11/site-packages/envoy/_bin/envoy
fl=(3) ???
fn=(20278) 0x0000000004ddd380
0 56
cob=(1) ???
cfi=(4) ???
cfn=(778) 0x000000000628d980
calls=1 0 
0 100
0 8

ob=(1)
fl=(4)
fn=(778)
0 3
fn=(22832) 0x00001d99610ea180
0 224
cob=(2)
cfi=(3)
cfn=(10930)
calls=8 0 
0 8968
0 7
ob=(3)
fn=(1050)
* 5
";

    #[test]
    fn self_costs_are_grouped_by_object() {
        let dump = format!("{DUMP}{BODY}");
        assert_eq!(program(&dump), Some(ENVOY));
        // Envoy's text as valgrind maps it: the `???` function at 0x628d980 is in it.
        let envoy_code = [(0x0218_6000, 0x062e_c000)];
        let s = split(&dump, ENVOY, &envoy_code);
        assert_eq!(
            s,
            Split {
                total: 19_572 + 19_572 + 3_620 + 9 + 56 + 8 + 3 + 224 + 7 + 5,
                jit: 224 + 7,
                envoy: 56 + 8 + 3,
                libs: 19_572 + 19_572 + 3_620 + 9 + 5,
            }
        );
        // Another Envoy path: its code counts as a library's.
        let other = split(&dump, "/usr/bin/envoy", &envoy_code);
        assert_eq!((other.envoy, other.libs), (3, s.libs + s.envoy - 3));
        // Without Envoy's mappings, its `???` stretch counts as generated code.
        let unmapped = split(&dump, ENVOY, &[]);
        assert_eq!((unmapped.jit, unmapped.envoy), (s.jit + 3, s.envoy - 3));
    }

    #[test]
    fn envoy_mappings_are_read_from_proc_maps() {
        let maps = format!(
            "00108000-02185000 r--p 00000000 fe:00 10118791                           {ENVOY}
02186000-062ec000 r-xp 0207d000 fe:00 10118791                           {ENVOY}
066ff000-06a00000 rw-p 00000000 00:00 0 
07144000-0716a000 r-xp 00001000 fe:00 325843                             /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
"
        );
        assert_eq!(
            mappings(&maps, Path::new(ENVOY)),
            [(0x0010_8000, 0x0218_5000), (0x0218_6000, 0x062e_c000)]
        );
    }

    #[test]
    fn the_newest_dump_is_the_highest_number() {
        let dir = std::env::temp_dir().join(format!("palisade-cg-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in [
            "callgrind.out",
            "callgrind.out.2",
            "callgrind.out.10",
            "other.11",
        ] {
            std::fs::write(dir.join(name), "").unwrap();
        }
        let newest = newest_dump(&dir.join("callgrind.out")).unwrap();
        assert_eq!(newest, dir.join("callgrind.out.10"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
