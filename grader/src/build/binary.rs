//! What the compiled student code holds: no code that runs before `main`.
//!
//! A constructor (a function pointer in an ELF `.init_array`, `.ctors` or
//! `.preinit_array` section) runs before the scenario driver has set
//! anything up, so it could write a made-up report and leave. Safe Rust
//! cannot make one: it takes a `#[link_section]`, which the language
//! boundary refuses. This check looks at the compiler's output instead of
//! the source, so it holds whatever the source did: every object file of
//! the student's library (its `.rlib`, an `ar` archive) is read, and any
//! such section in it refuses the build. The course's own crates and the
//! standard library are not in that archive.

use std::fs;
use std::path::Path;

/// Sections that hold code run before (or around) `main`.
const CONSTRUCTOR_SECTIONS: [&str; 4] = [".init_array", ".preinit_array", ".ctors", ".init"];

/// Why the student's library is refused, if it holds a constructor.
pub fn constructors(rlib: &Path) -> Option<String> {
    let bytes = fs::read(rlib).ok()?;
    let found: Vec<String> = archive_members(&bytes)
        .into_iter()
        .flat_map(|(_, object)| section_names(object))
        .filter(|name| {
            CONSTRUCTOR_SECTIONS
                .iter()
                .any(|s| name == s || name.starts_with(&format!("{s}.")))
        })
        .collect();
    (!found.is_empty()).then(|| {
        format!(
            "refused after the build: the compiled code holds code that runs before main (section {}); exercises cannot have any",
            found.join(", ")
        )
    })
}

/// The members of an `ar` archive, by name.
fn archive_members(bytes: &[u8]) -> Vec<(String, &[u8])> {
    let mut members = Vec::new();
    if !bytes.starts_with(b"!<arch>\n") {
        return members;
    }
    let mut at = 8;
    while at + 60 <= bytes.len() {
        let header = &bytes[at..at + 60];
        let name = String::from_utf8_lossy(&header[..16]).trim().to_string();
        let size: usize = String::from_utf8_lossy(&header[48..58])
            .trim()
            .parse()
            .unwrap_or(0);
        let start = at + 60;
        let end = (start + size).min(bytes.len());
        members.push((name, &bytes[start..end]));
        at = end + (size % 2);
    }
    members
}

fn u16_at(b: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?) as usize)
}

fn u32_at(b: &[u8], at: usize) -> Option<usize> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize)
}

fn u64_at(b: &[u8], at: usize) -> Option<usize> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?) as usize)
}

/// The section names of a 64-bit little-endian ELF object (empty for
/// anything else, such as the archive's metadata member).
fn section_names(elf: &[u8]) -> Vec<String> {
    let parse = || -> Option<Vec<String>> {
        if !elf.starts_with(b"\x7fELF") || elf.get(4) != Some(&2) || elf.get(5) != Some(&1) {
            return None;
        }
        let (shoff, shentsize) = (u64_at(elf, 0x28)?, u16_at(elf, 0x3A)?);
        let (shnum, shstrndx) = (u16_at(elf, 0x3C)?, u16_at(elf, 0x3E)?);
        let header = |i: usize| shoff + i * shentsize;
        let strtab = u64_at(elf, header(shstrndx) + 0x18)?;
        let mut names = Vec::new();
        for i in 0..shnum {
            let name_at = strtab + u32_at(elf, header(i))?;
            let end = elf.get(name_at..)?.iter().position(|&b| b == 0)?;
            names.push(String::from_utf8_lossy(&elf[name_at..name_at + end]).into_owned());
        }
        Some(names)
    };
    parse().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Compiles `source` as an rlib with the real compiler.
    fn rlib(source: &str) -> std::path::PathBuf {
        let dir = tempfile::tempdir().unwrap().keep();
        fs::write(dir.join("lib.rs"), source).unwrap();
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        let ok = Command::new(rustc)
            .args([
                "--crate-type=rlib",
                "--edition=2021",
                "-O",
                "--crate-name=sub",
                "lib.rs",
            ])
            .current_dir(&dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "rustc failed");
        dir.join("libsub.rlib")
    }

    #[test]
    fn a_constructor_is_found_in_the_compiled_library() {
        let plain = rlib("pub fn add(a: i64, b: i64) -> i64 { a + b }");
        assert_eq!(constructors(&plain), None);
        let ctor = rlib(
            "#[used] #[link_section = \".init_array\"] static C: extern \"C\" fn() = f;\n\
             extern \"C\" fn f() {}\n",
        );
        let why = constructors(&ctor).unwrap();
        assert!(why.contains(".init_array"), "{why}");
    }
}
