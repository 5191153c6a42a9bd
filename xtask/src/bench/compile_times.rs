//! `cargo xtask bench --compile-times`: what V8's optimizing compiler spends on each function of
//! each built module, the largest first.
//!
//! Envoy's V8 runs with Liftoff off, so a module's start is TurboFan compiling every function
//! before the first request: which code that time goes to says where shrinking pays. Node's V8
//! with the same setting (`--no-liftoff`, eager, `--single-threaded` so each function's time is
//! its own) prints each function's time; names come from the symbol map `cargo xtask build`
//! writes beside each module. Node's V8 is older than Envoy's: the shares, not the
//! milliseconds, carry over. Timings, never assertions. (Splitting the largest functions does
//! not cut the total: with Binaryen's one-caller inlining limited to 1000 bytes, the bundle's
//! functions were all under 70 KB and node's compile took 1.1% more instructions under
//! callgrind, 10.81 → 10.93 G.)

use super::step;
use crate::util::{on_path, root, Result};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Functions listed per module.
const TOP: usize = 12;

/// One function's compilation.
#[derive(Debug, Clone, PartialEq)]
struct Compiled {
    index: u32,
    millis: u64,
    body_bytes: u64,
    code_bytes: u64,
}

/// Compiles every built module (or those whose file name contains an `--only` part) and writes
/// the report to `target/bench/compile-times.md`.
pub fn run(only: &[String]) -> Result {
    if !on_path("node") {
        return Err("Node.js is needed for --compile-times (install `nodejs`)".into());
    }
    // The modules the bench loads: every filter built, the bundle, and the empty floor.
    let (modules, empty) = super::build_modules()?;
    let mut paths: Vec<PathBuf> = modules
        .built
        .iter()
        .map(|name| match *name {
            super::variants::BUNDLE => modules.bundle_path(),
            filter => modules.path(filter),
        })
        .chain(empty)
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            let name = name.unwrap_or_default();
            only.is_empty() || only.iter().any(|o| name.contains(o.as_str()))
        })
        .collect();
    paths.sort();
    step(&format!(
        "compile {} modules with TurboFan under Node, one thread",
        paths.len()
    ));
    let mut md = String::from(
        "# TurboFan compile time per module (`cargo xtask bench --compile-times`)\n\n\
         Node's V8, `--no-liftoff --no-wasm-lazy-compilation --single-threaded`: each \
         function's own compile time. Envoy's V8 compiles the same way at start (Liftoff off), \
         on more than one thread.\n",
    );
    for path in &paths {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let compiled = compile(path)?;
        let names = symbols(&crate::wasm_opt::symbol_map(path));
        let section = render(&file, &compiled, &names);
        println!("{section}");
        md.push_str(&section);
    }
    let out = root().join("target/bench/compile-times.md");
    std::fs::create_dir_all(root().join("target/bench")).map_err(|e| e.to_string())?;
    std::fs::write(&out, md).map_err(|e| e.to_string())?;
    println!("report: {}", out.display());
    Ok(())
}

/// Node compiles `module` and prints each function's TurboFan time.
fn compile(module: &Path) -> Result<Vec<Compiled>> {
    let script = "new WebAssembly.Module(require('fs').readFileSync(process.argv[1]))";
    let out = Command::new("node")
        .args([
            "--no-liftoff",
            "--no-wasm-lazy-compilation",
            "--single-threaded",
            "--trace-wasm-compilation-times",
            "-e",
            script,
        ])
        .arg(module)
        .output()
        .map_err(|e| format!("node: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "node could not compile {}: {}",
            module.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(parse_line)
        .collect())
}

/// `Compiled function 0x…#86 using TurboFan, took 546 ms and … bytes; bodysize 158402 codesize
/// 573680 name …`.
fn parse_line(line: &str) -> Option<Compiled> {
    let rest = line.strip_prefix("Compiled function ")?;
    let (_, rest) = rest.split_once('#')?;
    let (index, rest) = rest.split_once(' ')?;
    let rest = rest.strip_prefix("using TurboFan, took ")?;
    let (millis, rest) = rest.split_once(" ms")?;
    let (_, body) = rest.split_once("bodysize ")?;
    let (body, rest) = body.split_once(' ')?;
    let (_, code) = rest.split_once("codesize ")?;
    let code = code.split(' ').next()?;
    Some(Compiled {
        index: index.parse().ok()?,
        millis: millis.parse().ok()?,
        body_bytes: body.parse().ok()?,
        code_bytes: code.parse().ok()?,
    })
}

/// `index:name` lines of a symbol map (empty when there is none).
fn symbols(path: &Path) -> HashMap<u32, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (i, name) = l.split_once(':')?;
            Some((i.parse().ok()?, demangle(name)))
        })
        .collect()
}

/// Rust's legacy mangling (`_ZN8palisade6module6module17h…E`) as a path, without the hash;
/// other names as they are.
fn demangle(name: &str) -> String {
    let Some(mut rest) = name.strip_prefix("_ZN").and_then(|n| n.strip_suffix('E')) else {
        return name.to_string();
    };
    let mut parts = Vec::new();
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let Some(len) = rest.get(..digits).and_then(|d| d.parse::<usize>().ok()) else {
            return name.to_string();
        };
        let Some(part) = rest.get(digits..digits + len) else {
            return name.to_string();
        };
        rest = rest.get(digits + len..).unwrap_or_default();
        let is_hash = part.len() == 17
            && part.starts_with('h')
            && part.bytes().skip(1).all(|b| b.is_ascii_hexdigit());
        if !(is_hash && rest.is_empty()) {
            parts.push(unescape(part));
        }
    }
    parts.join("::")
}

fn unescape(part: &str) -> String {
    let part = part
        .strip_prefix('_')
        .filter(|p| p.starts_with('$'))
        .unwrap_or(part);
    let mut out = part.replace("..", "::");
    for (from, to) in [
        ("$LT$", "<"),
        ("$GT$", ">"),
        ("$RF$", "&"),
        ("$BP$", "*"),
        ("$C$", ","),
        ("$SP$", "@"),
        ("$u20$", " "),
        ("$u27$", "'"),
        ("$u5b$", "["),
        ("$u5d$", "]"),
        ("$u7b$", "{"),
        ("$u7d$", "}"),
        ("$u7e$", "~"),
    ] {
        out = out.replace(from, to);
    }
    out
}

fn render(file: &str, compiled: &[Compiled], names: &HashMap<u32, String>) -> String {
    let total: u64 = compiled.iter().map(|c| c.millis).sum();
    let body: u64 = compiled.iter().map(|c| c.body_bytes).sum();
    let mut sorted: Vec<&Compiled> = compiled.iter().collect();
    sorted.sort_by(|a, b| {
        b.millis
            .cmp(&a.millis)
            .then(b.body_bytes.cmp(&a.body_bytes))
    });
    let mut md = String::new();
    let _ = writeln!(
        md,
        "\n## {file}\n\n{} functions, {body} bytes of code in the module, {total} ms in all.\n",
        compiled.len()
    );
    let _ = writeln!(
        md,
        "| function | ms | share | body bytes | machine code bytes |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|");
    for c in sorted.iter().take(TOP) {
        let name = names
            .get(&c.index)
            .cloned()
            .unwrap_or_else(|| format!("function {}", c.index));
        let share = if total == 0 {
            0.0
        } else {
            c.millis as f64 * 100.0 / total as f64
        };
        let _ = writeln!(
            md,
            "| `{}` | {} | {share:.0}% | {} | {} |",
            name.replace('|', "\\|"),
            c.millis,
            c.body_bytes,
            c.code_bytes
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_line_gives_the_function_its_time_and_sizes() {
        let line = "Compiled function 0x2e2d4160#86 using TurboFan, took 546 ms and 16390040 / \
                    49039808 max/total bytes; bodysize 158402 codesize 573680 name wasm-function#86";
        assert_eq!(
            parse_line(line),
            Some(Compiled {
                index: 86,
                millis: 546,
                body_bytes: 158402,
                code_bytes: 573680
            })
        );
        assert_eq!(parse_line("Compiled function 0x1#2 using Liftoff"), None);
    }

    #[test]
    fn legacy_rust_names_read_as_paths() {
        assert_eq!(
            demangle("_ZN8palisade6module6module17h91d8117ca0d4f690E"),
            "palisade::module::module"
        );
        assert_eq!(
            demangle("_ZN59_$LT$$RF$mut$u20$A$u20$as$u20$serde_core..de..MapAccess$GT$10next_value17ha041ad3716185963E"),
            "<&mut A as serde_core::de::MapAccess>::next_value"
        );
        assert_eq!(demangle("dlmalloc"), "dlmalloc");
        assert_eq!(demangle("_ZN99x"), "_ZN99x");
    }

    #[test]
    fn the_slowest_functions_come_first_with_their_share() {
        let compiled = [
            Compiled {
                index: 1,
                millis: 10,
                body_bytes: 100,
                code_bytes: 300,
            },
            Compiled {
                index: 2,
                millis: 30,
                body_bytes: 900,
                code_bytes: 2000,
            },
        ];
        let names = HashMap::from([(2, "big".to_string())]);
        let md = render("m.wasm", &compiled, &names);
        let big = md.find("| `big` | 30 | 75% |").unwrap();
        let other = md.find("| `function 1` | 10 | 25% |").unwrap();
        assert!(big < other, "{md}");
        assert!(md.contains("2 functions, 1000 bytes of code in the module, 40 ms in all."));
    }
}
